import type { Event } from "./types.js";

/**
 * A session's events as a person reads them: prompts, the assistant's answers, tool calls
 * and their results, notices and lifecycle marks. Pure functions over stored events, so
 * `show` and `tail` render the same way and the rules are tested without a server.
 */

export type TimelineKind =
  "prompt" | "assistant" | "tool_call" | "tool_result" | "tool_error" | "error" | "notice" | "subagent" | "lifecycle";

export interface TimelineEntry {
  eventId: string;
  sessionId: string;
  at: string;
  kind: TimelineKind;
  /** The stored event's type (hook event name, transcript line type, or an API event type). */
  eventType: string;
  source: Event["source"];
  tool: string | null;
  toolUseId: string | null;
  /** The text to show: a prompt, an answer, a summary of a tool's input or result. Whole, never cut. */
  text: string;
}

type Json = Record<string, unknown>;

const str = (value: unknown): string | undefined => (typeof value === "string" && value.length > 0 ? value : undefined);
const hasText = (value: unknown): value is string => typeof value === "string" && value.trim() !== "";
const obj = (value: unknown): Json | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined;

/** The one field that says what a tool call does (a command, a path, a pattern), else its input as JSON. */
export function describeToolInput(tool: string | null, input: unknown): string {
  const fields = obj(input);
  if (!fields) return input === undefined ? "" : stringify(input);
  const pattern = str(fields.pattern);
  if (pattern) return str(fields.path) ? `${pattern} in ${str(fields.path)}` : pattern; // Grep, Glob
  const preferred = ["command", "file_path", "notebook_path", "path", "url", "query", "description", "prompt"];
  for (const key of preferred) {
    const value = str(fields[key]);
    if (value) return value;
  }
  return stringify(fields);
}

function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return String(value);
  }
}

/** Text of a tool's result: its stdout/stderr, its content blocks, or the whole result as JSON. */
export function describeToolResult(result: unknown): string {
  if (typeof result === "string") return result;
  if (Array.isArray(result))
    return result
      .map(textOfBlock)
      .filter((t) => t.length > 0)
      .join("\n");
  const fields = obj(result);
  if (!fields) return result === undefined || result === null ? "" : stringify(result);
  const stdout = str(fields.stdout);
  const stderr = str(fields.stderr);
  if (stdout !== undefined || stderr !== undefined) return [stdout, stderr].filter(Boolean).join("\n");
  for (const key of ["content", "output", "result", "message", "text"]) {
    const value = fields[key];
    if (typeof value === "string" && value.length > 0) return value;
    if (Array.isArray(value)) return describeToolResult(value);
  }
  const file = obj(fields.file);
  if (file && str(file.filePath)) return `${str(file.filePath)}`;
  return stringify(fields);
}

function textOfBlock(block: unknown): string {
  if (typeof block === "string") return block;
  const fields = obj(block);
  if (!fields) return "";
  if (typeof fields.text === "string") return fields.text;
  if (fields.content !== undefined) return describeToolResult(fields.content);
  return "";
}

function entry(event: Event, kind: TimelineKind, text: string, tool?: string | null, toolUseId?: string | null) {
  return {
    eventId: event.id,
    sessionId: event.sessionId,
    at: event.occurredAt,
    kind,
    eventType: event.eventType,
    source: event.source,
    tool: tool ?? event.toolName ?? null,
    toolUseId: toolUseId ?? event.toolUseId ?? null,
    text,
  } satisfies TimelineEntry;
}

function fromHook(event: Event): TimelineEntry[] {
  const p = event.payload;
  const tool = str(p.tool_name) ?? event.toolName;
  switch (event.eventType) {
    case "SessionStart":
      return [entry(event, "lifecycle", `session started${str(p.source) ? ` (${str(p.source)})` : ""}`)];
    case "SessionEnd":
      return [entry(event, "lifecycle", `session ended${str(p.reason) ? ` (${str(p.reason)})` : ""}`)];
    case "UserPromptSubmit":
      return [entry(event, "prompt", str(p.prompt) ?? "")];
    case "PreToolUse":
      return [entry(event, "tool_call", describeToolInput(tool ?? null, p.tool_input), tool)];
    case "PostToolUse":
      return [entry(event, "tool_result", describeToolResult(p.tool_response), tool)];
    case "PostToolUseFailure":
      return [entry(event, "tool_error", str(p.error) ?? describeToolResult(p.error), tool)];
    case "PermissionRequest":
      return [entry(event, "notice", `asks permission for ${tool ?? "a tool"}`, tool)];
    case "PermissionDenied": {
      // Not a call that ran: say so, with what it would have done.
      const what = describeToolInput(tool ?? null, p.tool_input);
      return [entry(event, "notice", `denied ${tool ?? "a tool"}${what ? `: ${what}` : ""}`, tool)];
    }
    case "Notification":
      return [entry(event, "notice", str(p.message) ?? str(p.notification_type) ?? "notification")];
    case "Stop": {
      const last = str(p.last_assistant_message);
      return [last ? entry(event, "assistant", last) : entry(event, "lifecycle", "turn ended")];
    }
    case "StopFailure": {
      // The turn ended on an API error (a rate limit, an overloaded model), not by finishing.
      const why = str(p.error) ?? "an error";
      const details = str(p.error_details);
      return [entry(event, "error", `turn failed: ${why}${details ? ` (${details})` : ""}`)];
    }
    case "SubagentStart":
      return [entry(event, "subagent", `subagent ${str(p.agent_type) ?? str(p.agent_id) ?? ""} started`.trim())];
    case "SubagentStop":
      return [entry(event, "subagent", `subagent ${str(p.agent_type) ?? str(p.agent_id) ?? ""} finished`.trim())];
    case "PreCompact":
    case "PostCompact": {
      const what = `${event.eventType === "PreCompact" ? "compacting" : "compacted"}${str(p.trigger) ? ` (${str(p.trigger)})` : ""}`;
      // What the conversation was cut down to: the agent goes on from this text.
      const summary = hasText(p.compact_summary) ? p.compact_summary : undefined;
      return [entry(event, "lifecycle", summary ? `${what}: ${summary}` : what)];
    }
    default:
      // The kind first, as the dashboard titles its entries: a bare path, model or task
      // subject says little alone ("TaskCreated: Measure cache hit rate").
      return [entry(event, "lifecycle", event.message ? `${event.eventType}: ${event.message}` : event.eventType)];
  }
}

/**
 * A message's content as entries: a string is one entry of `textKind`; in a list of blocks,
 * text blocks are too, tool calls and tool results get their own kinds, and thinking is
 * left out (it is the model's, not the conversation).
 */
function contentEntries(event: Event, content: unknown, textKind: "prompt" | "assistant"): TimelineEntry[] {
  if (typeof content === "string") return hasText(content) ? [entry(event, textKind, content)] : [];
  if (!Array.isArray(content)) return [];
  const entries: TimelineEntry[] = [];
  for (const block of content) {
    const b = obj(block);
    if (b?.type === "text" && hasText(b.text)) entries.push(entry(event, textKind, b.text));
    else if (b?.type === "tool_use") {
      const tool = str(b.name) ?? null;
      entries.push(entry(event, "tool_call", describeToolInput(tool, b.input), tool, str(b.id) ?? null));
    } else if (b?.type === "tool_result") {
      const kind = b.is_error === true ? "tool_error" : "tool_result";
      entries.push(entry(event, kind, describeToolResult(b.content), null, str(b.tool_use_id) ?? null));
    }
  }
  return entries;
}

function fromTranscript(event: Event): TimelineEntry[] {
  const line = event.payload;
  const message = obj(line.message);
  switch (event.eventType) {
    case "user":
      // Meta lines are Claude Code's own (command output, caveats), not what the person typed.
      return line.isMeta === true ? [] : contentEntries(event, message?.content, "prompt");
    case "assistant":
      return contentEntries(event, message?.content, "assistant");
    case "system": {
      // Most system lines are bookkeeping (turn durations, hook summaries); these say something.
      const text =
        str(line.content) ??
        (line.subtype === "compact_boundary" ? "conversation compacted" : undefined) ??
        (line.subtype === "api_error" ? apiErrorText(line) : undefined);
      return text ? [entry(event, "notice", text)] : [];
    }
    case "summary":
      return str(line.summary) ? [entry(event, "notice", `summary: ${str(line.summary)}`)] : [];
    default:
      // progress, file-history-snapshot, queue-operation, attachment, … : bookkeeping, not conversation.
      return [];
  }
}

/** Hook events that say the same as transcript lines (prompts, tool calls, results, answers). */
const HOOK_TYPES_IN_TRANSCRIPTS = new Set([
  "UserPromptSubmit",
  "PreToolUse",
  "PostToolUse",
  "PostToolUseFailure",
  "Stop",
]);

/**
 * The timeline of one session's events, in time order (events of the same moment in their
 * stored order). A session recorded both by hooks and from its transcript holds each
 * prompt and tool call twice; when transcript conversation lines are present, the hook
 * events that repeat them are left out, and the hook events only hooks have
 * (notifications, permission requests, start and end) stay. They are stored as they
 * arrived, hooks at once and the transcript later (sync, import), so stored order would
 * put a permission prompt before the prompt that led to it.
 */
export function buildTimeline(events: readonly Event[]): TimelineEntry[] {
  const hasTranscript = events.some(
    (e) => e.source === "transcript" && (e.eventType === "user" || e.eventType === "assistant"),
  );
  // A stable sort: the same moment keeps the stored order.
  const entries = events
    .toSorted((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt))
    .filter((e) => !(hasTranscript && e.source === "hook" && HOOK_TYPES_IN_TRANSCRIPTS.has(e.eventType)))
    .flatMap(entriesOf);
  // A transcript's tool result names only its call's id: give it the call's tool name.
  const toolById = new Map<string, string>();
  for (const e of entries) {
    if (e.kind === "tool_call" && e.toolUseId && e.tool) toolById.set(e.toolUseId, e.tool);
    else if (e.tool === null && e.toolUseId) e.tool = toolById.get(e.toolUseId) ?? null;
  }
  // Stop can fire more than once for one reply: the same answer right after itself is shown once.
  return entries.filter((e, i) => {
    const before = entries[i - 1];
    return !(e.kind === "assistant" && e.source === "hook" && before?.kind === "assistant" && before.text === e.text);
  });
}

/** One event as it arrives live (`tail`): no de-duplication, the stream has no whole picture. */
export function entriesOf(event: Event): TimelineEntry[] {
  if (event.source === "hook") return fromHook(event);
  if (event.source === "transcript") return fromTranscript(event);
  return [entry(event, "lifecycle", event.message ?? event.eventType)];
}

/** A transcript's `api_error` line: the model call failed and Claude Code retries it. */
function apiErrorText(line: Json): string {
  const error = obj(line.error);
  const inner = obj(error?.error);
  const parts = [
    "API error",
    typeof error?.status === "number" ? String(error.status) : undefined,
    str(inner?.type),
  ].filter((part) => part !== undefined);
  const why = str(inner?.message);
  const retry =
    typeof line.retryAttempt === "number" && typeof line.maxRetries === "number"
      ? ` (retry ${line.retryAttempt} of ${line.maxRetries})`
      : "";
  return `${parts.join(" ")}${why ? `: ${why}` : ""}${retry}`;
}
