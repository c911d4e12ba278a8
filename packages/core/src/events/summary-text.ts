/**
 * The one line a timeline shows for an event that came without a `message`: the first
 * words of what was said, or the tool and its main input, or for the other kinds the field
 * that says what happened (a title, a compaction's summary, a task's subject, the new
 * working directory, the model switched to). Computed once at ingest (a few
 * field reads and one slice: the hot path stays cheap) and stored as the event's
 * `message`, so timeline summaries, which leave the payload out, still say something.
 */

/** Long enough to recognise a prompt or a command, short enough for one timeline row. */
export const SUMMARY_MAX_CHARS = 160;

/** Tool input fields that say what a call does, most telling first. */
const MAIN_INPUT_KEYS = [
  "command",
  "file_path",
  "notebook_path",
  "path",
  "pattern",
  "url",
  "query",
  "skill",
  "description",
  "prompt",
  "subject",
];

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Whitespace collapsed, cut on a word boundary with an ellipsis when too long. */
export function firstWords(text: string, max = SUMMARY_MAX_CHARS): string | undefined {
  // Only the head is looked at: a 100 KB reply costs no more than a short one.
  const flat = text
    .slice(0, max * 4)
    .replace(/\s+/g, " ")
    .trim();
  if (flat.length === 0) return undefined;
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

function mainInput(input: unknown): string | undefined {
  if (!isObject(input)) return undefined;
  for (const key of MAIN_INPUT_KEYS) {
    const value = input[key];
    if (typeof value === "string" && value.trim() !== "") return value;
  }
  for (const value of Object.values(input)) {
    if (typeof value === "string" && value.trim() !== "") return value;
  }
  return undefined;
}

function toolCall(name: unknown, input: unknown): string | undefined {
  if (typeof name !== "string" || name === "") return undefined;
  const what = mainInput(input);
  return firstWords(what === undefined ? name : `${name}: ${what}`);
}

function contentText(content: unknown): string | undefined {
  if (typeof content === "string") return firstWords(content);
  if (!Array.isArray(content)) return undefined;
  for (const block of content) if (isObject(block) && typeof block.text === "string") return firstWords(block.text);
  return undefined;
}

/** A transcript line's message content: its text, else its first tool call, else its first tool result. */
function messageSummary(content: unknown): string | undefined {
  if (!Array.isArray(content)) return contentText(content);
  const blocks = content.filter(isObject);
  const text = blocks.find((b) => b.type === "text" && typeof b.text === "string" && b.text.trim() !== "");
  if (text) return firstWords(text.text as string);
  const call = blocks.find((b) => b.type === "tool_use");
  if (call) return toolCall(call.name, call.input);
  const result = blocks.find((b) => b.type === "tool_result");
  if (result) {
    const said = contentText(result.content);
    return said === undefined ? "tool result" : firstWords(`tool result: ${said}`);
  }
  return undefined;
}

// A Map, not an object: a line typed `constructor` or `__proto__` must find nothing.
const textKeys = (keys: Record<string, readonly string[]>) => new Map(Object.entries(keys));

/**
 * Where the words are in the lines and hooks that have no message or tool call, most
 * telling first (the first non-empty string wins). Bookkeeping that repeats what another
 * event says (a `last-prompt` line, a `MessageDisplay` delta of a reply) is left out, so a
 * search does not find it twice.
 */
const TRANSCRIPT_TEXT_KEYS: ReadonlyMap<string, readonly string[]> = textKeys({
  summary: ["summary"],
  // Claude Code writes `aiTitle`; `title` is kept for lines written by older tools.
  "ai-title": ["aiTitle", "title"],
  "custom-title": ["customTitle"],
  "agent-name": ["agentName"],
  system: ["content"],
  "queue-operation": ["content"],
  // The SDK's closing line: the final answer.
  result: ["result"],
  mode: ["mode"],
  "permission-mode": ["permissionMode"],
});

const HOOK_TEXT_KEYS: ReadonlyMap<string, readonly string[]> = textKeys({
  Stop: ["last_assistant_message"],
  SubagentStop: ["last_assistant_message"],
  SubagentStart: ["agent_type"],
  SessionStart: ["source"],
  SessionEnd: ["reason"],
  PreCompact: ["custom_instructions", "trigger"],
  PostCompact: ["compact_summary", "trigger"],
  // What the person typed first: the expansion is what the command made of it.
  UserPromptExpansion: ["prompt", "expanded_prompt"],
  TaskCreated: ["subject", "description"],
  TaskCompleted: ["subject", "description"],
  CwdChanged: ["new_cwd"],
  FileChanged: ["file_path"],
  InstructionsLoaded: ["file_path"],
  ConfigChange: ["file_path", "source"],
  DirectoryAdded: ["directory"],
  PreModelSwitch: ["to_model", "requested_model"],
  PostModelSwitch: ["to_model", "requested_model"],
  WorktreeCreate: ["worktree_path", "name"],
  WorktreeRemove: ["worktree_path", "name"],
  TeammateIdle: ["teammate_name"],
  ElicitationResult: ["action"],
  Setup: ["trigger"],
});

function firstText(payload: Json, keys: readonly string[] | undefined): string | undefined {
  if (keys === undefined) return undefined;
  for (const key of keys) {
    const value = payload[key];
    if (typeof value === "string") {
      const words = firstWords(value);
      if (words !== undefined) return words;
    }
  }
  return undefined;
}

function transcriptSummary(line: Json): string | undefined {
  if (line.type === "user" || line.type === "assistant") {
    return isObject(line.message) ? messageSummary(line.message.content) : undefined;
  }
  if (line.type === "system" && line.subtype === "api_error") return apiError(line);
  return typeof line.type === "string" ? firstText(line, TRANSCRIPT_TEXT_KEYS.get(line.type)) : undefined;
}

/**
 * A transcript's `api_error` line: the call to the model failed and Claude Code retries
 * ("API error 529 overloaded_error: Overloaded (retry 1 of 10)").
 */
function apiError(line: Json): string {
  const error = isObject(line.error) ? line.error : {};
  const inner = isObject(error.error) ? error.error : {};
  const status = typeof error.status === "number" ? ` ${error.status}` : "";
  const kind = typeof inner.type === "string" && inner.type !== "" ? ` ${inner.type}` : "";
  const why = typeof inner.message === "string" && inner.message !== "" ? `: ${inner.message}` : "";
  const retry =
    typeof line.retryAttempt === "number" && typeof line.maxRetries === "number"
      ? ` (retry ${line.retryAttempt} of ${line.maxRetries})`
      : "";
  return firstWords(`API error${status}${kind}${why}${retry}`) ?? "API error";
}

/** A `PostToolBatch`: how many calls ended together, and their tools in order ("2 tool calls: Read, Grep"). */
function toolBatch(calls: unknown): string | undefined {
  if (!Array.isArray(calls) || calls.length === 0) return undefined;
  // Only the head is read: a batch of thousands costs no more than a short one.
  const names = calls
    .slice(0, SUMMARY_MAX_CHARS)
    .flatMap((call) =>
      isObject(call) && typeof call.tool_name === "string" && call.tool_name !== "" ? [call.tool_name] : [],
    );
  const count = `${calls.length} tool ${calls.length === 1 ? "call" : "calls"}`;
  return firstWords(names.length === 0 ? count : `${count}: ${names.join(", ")}`);
}

/** The text to show for an event without a message, or undefined when it has nothing to say. */
export function summaryText(source: string, eventType: string, payload: Json): string | undefined {
  if (source === "transcript") return transcriptSummary(payload);
  if (source === "hook") {
    if (typeof payload.tool_name === "string") return toolCall(payload.tool_name, payload.tool_input);
    if (eventType === "PostToolBatch") return toolBatch(payload.tool_calls);
    return firstText(payload, HOOK_TEXT_KEYS.get(eventType));
  }
  return undefined;
}
