/**
 * A session's timeline from its events: in order (by `seq`), each event once however often it
 * arrives (a page and the live tail overlap), and a tool call drawn with its result (the
 * PreToolUse/PostToolUse pair sharing a `toolUseId`) as one entry.
 */
import type { EventSummary } from "./types";

export type EntryKind = "prompt" | "assistant" | "tool" | "error" | "event";

export interface TimelineEntry {
  /** The first event's id: the entry's key and the anchor a search result jumps to. */
  id: string;
  kind: EntryKind;
  event: EventSummary;
  /** For a tool call: the event with its result, once it came. */
  result: EventSummary | null;
  /** An error anywhere in the entry (the event or its result). */
  failed: boolean;
}

/** `existing` with `incoming` added: each id once, ordered by `seq`. Returns `existing` itself when nothing is new. */
export function mergeEvents(existing: readonly EventSummary[], incoming: readonly EventSummary[]): EventSummary[] {
  const seen = new Set(existing.map((e) => e.id));
  const fresh = incoming.filter((e) => !seen.has(e.id) && (seen.add(e.id), true));
  if (fresh.length === 0) return existing as EventSummary[];
  const last = existing.at(-1);
  let previous = last?.seq ?? -Infinity;
  const inOrder = fresh.every((e) => e.seq > previous && ((previous = e.seq), true));
  return inOrder ? [...existing, ...fresh] : [...existing, ...fresh].sort((a, b) => a.seq - b.seq);
}

/** Results of a tool call: hooks', the API's, and a transcript's `user` line carrying the tool_result. */
const TOOL_RESULT_TYPES = new Set(["PostToolUse", "PostToolUseFailure", "tool_result", "user"]);
const FAILURE_TYPES = new Set(["PostToolUseFailure", "StopFailure", "error"]);

function kindOf(event: EventSummary): EntryKind {
  if (event.level === "error" || FAILURE_TYPES.has(event.eventType)) return "error";
  if (event.toolUseId !== null || event.toolName !== null) return "tool";
  if (event.eventType === "UserPromptSubmit" || event.eventType === "user" || event.eventType === "prompt")
    return "prompt";
  if (event.eventType === "assistant") return "assistant";
  return "event";
}

/** Events to entries: a tool result joins its call when the call is on screen. */
export function buildTimeline(events: readonly EventSummary[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const openCalls = new Map<string, TimelineEntry>();
  for (const event of events) {
    const failed = event.level === "error" || FAILURE_TYPES.has(event.eventType);
    if (event.toolUseId !== null && TOOL_RESULT_TYPES.has(event.eventType)) {
      const call = openCalls.get(event.toolUseId);
      if (call && call.result === null) {
        call.result = event;
        call.failed ||= failed;
        continue;
      }
    }
    const entry: TimelineEntry = { id: event.id, kind: kindOf(event), event, result: null, failed };
    if (entry.kind === "error" && event.toolUseId !== null) entry.kind = "tool";
    // The call is the first entry of its id: a permission prompt or a `progress` line of the
    // same call after it does not take the result from it.
    if (event.toolUseId !== null && !TOOL_RESULT_TYPES.has(event.eventType) && !openCalls.has(event.toolUseId))
      openCalls.set(event.toolUseId, entry);
    entries.push(entry);
  }
  return entries;
}

/** The steps of a tool call itself, from hooks and transcript lines: their entry is titled by the tool alone. */
const TOOL_CALL_TYPES = new Set(["PreToolUse", "PostToolUse", "PostToolUseFailure", "assistant", "user"]);

/**
 * What a tool's entry is about when its event is not the call or its result (permission asked
 * for, or denied): shown beside the tool's name, so a denied call does not read as one that ran.
 */
export function toolEventLabel(entry: TimelineEntry): string | null {
  return entry.kind === "tool" && !TOOL_CALL_TYPES.has(entry.event.eventType) ? entry.event.eventType : null;
}

/**
 * Where an event is drawn: the index of the entry that starts with it or carries it as its
 * tool result (a search hit on a PostToolUse lands on its call's entry); -1 when not loaded.
 */
export function entryIndexOf(entries: readonly TimelineEntry[], eventId: string): number {
  return entries.findIndex((entry) => entry.id === eventId || entry.result?.id === eventId);
}
