import { expectDefined } from "@logbook/vitest-config/expect-defined";
/**
 * Hook-shaped payloads like the ones Claude Code sends (see ../shared/claude-code/samples/hooks):
 * the same fields, realistic sizes, deterministic from a seed so runs are comparable.
 */

const TOOLS = ["Bash", "Read", "Edit", "Grep", "Glob", "Write", "WebFetch", "Task"] as const;
const WORDS =
  "the a session tool file read write edit test build lint run check error fix type import export function const value return async await promise index query table event page cursor".split(
    " ",
  );

/** A small, fast, seeded PRNG (mulberry32): the generator must not spend its time in crypto. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(random: () => number, list: readonly T[]): T =>
  expectDefined(list[Math.floor(random() * list.length)]);

export function words(random: () => number, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pick(random, WORDS));
  return out.join(" ");
}

export type HookEventName =
  | "SessionStart"
  | "UserPromptSubmit"
  | "PreToolUse"
  | "PostToolUse"
  | "Notification"
  | "Stop"
  | "SubagentStop"
  | "SessionEnd";

export interface HookShape {
  eventName: HookEventName;
  toolName?: string;
  toolUseId?: string;
  /** The payload minus its `session_id`, which the caller adds. */
  body: Record<string, unknown>;
}

/**
 * One hook payload. `targetBytes` pads tool input/response text so the JSON is about
 * that size (PostToolUse responses are the big ones in real traffic).
 */
export function hookShape(random: () => number, eventName: HookEventName, cwd: string, targetBytes = 0): HookShape {
  const base: Record<string, unknown> = {
    transcript_path: `${cwd.replace("/work/", "/home/dev/.claude/projects/-work-")}/transcript.jsonl`,
    cwd,
    hook_event_name: eventName,
  };
  const fill = (used: number) =>
    targetBytes > used ? words(random, Math.ceil((targetBytes - used) / 5.5)).slice(0, targetBytes - used) : "";
  switch (eventName) {
    case "PreToolUse":
    case "PostToolUse": {
      const toolName = pick(random, TOOLS);
      const toolUseId = `toolu_${Math.floor(random() * 2 ** 52).toString(36)}${Math.floor(random() * 2 ** 52).toString(36)}`;
      const input =
        toolName === "Bash"
          ? {
              command: `pnpm ${pick(random, ["test", "lint", "build", "typecheck"])} --filter ${pick(random, WORDS)}`,
              description: words(random, 6),
            }
          : { file_path: `${cwd}/src/${pick(random, WORDS)}/${pick(random, WORDS)}.ts` };
      const body: Record<string, unknown> = {
        ...base,
        permission_mode: "default",
        tool_name: toolName,
        tool_input: input,
        tool_use_id: toolUseId,
      };
      if (eventName === "PostToolUse") body.tool_response = { type: "text", content: "" };
      const used = JSON.stringify(body).length + 50;
      if (eventName === "PostToolUse") (body.tool_response as Record<string, unknown>).content = fill(used);
      else if (targetBytes > used) (input as Record<string, unknown>).description = fill(used);
      return { eventName, toolName, toolUseId, body };
    }
    case "UserPromptSubmit": {
      const body = { ...base, permission_mode: "default", prompt: words(random, 12) };
      body.prompt += " " + fill(JSON.stringify(body).length + 50);
      return { eventName, body };
    }
    case "Notification":
      return { eventName, body: { ...base, message: "Claude needs your permission to use Bash" } };
    case "SessionStart":
      return {
        eventName,
        body: { ...base, source: pick(random, ["startup", "resume", "clear"]), model: "claude-sonnet-4-5" },
      };
    case "SessionEnd":
      return { eventName, body: { ...base, reason: pick(random, ["clear", "logout", "prompt_input_exit", "other"]) } };
    case "Stop":
    case "SubagentStop":
      return { eventName, body: { ...base, stop_hook_active: false } };
  }
}

/** A typical mix of hook events within a session after its start. */
export function nextEventName(random: () => number, previous: HookEventName | null): HookEventName {
  if (previous === null) return "SessionStart";
  if (previous === "PreToolUse") return "PostToolUse";
  const r = random();
  if (r < 0.08) return "UserPromptSubmit";
  if (r < 0.82) return "PreToolUse";
  if (r < 0.88) return "Notification";
  return "Stop";
}
