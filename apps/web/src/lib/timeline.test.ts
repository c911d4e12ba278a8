import { describe, expect, it } from "vitest";

import { buildTimeline, entryIndexOf, mergeEvents, toolEventLabel } from "./timeline";
import type { EventSummary } from "./types";

function event(seq: number, over: Partial<EventSummary> = {}): EventSummary {
  return {
    id: `e${seq}`,
    sessionId: "s",
    seq,
    eventType: "note",
    source: "hook",
    level: "info",
    message: null,
    toolName: null,
    toolUseId: null,
    parentEventId: null,
    parentUuid: null,
    isSidechain: false,
    agentId: null,
    cwd: null,
    machineId: null,
    redactions: 0,
    replacedCharacters: 0,
    occurredAt: "2026-12-01T10:00:00.000Z",
    receivedAt: "2026-12-01T10:00:00.000Z",
    ...over,
  };
}

describe("mergeEvents", () => {
  it("keeps each event once and in seq order, whichever way they arrive", () => {
    const page = [event(1), event(2), event(3)];
    expect(mergeEvents(page, [event(3), event(4)]).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(mergeEvents(page, [event(5), event(0)]).map((e) => e.seq)).toEqual([0, 1, 2, 3, 5]);
    expect(mergeEvents(page, [event(2)])).toBe(page);
  });
});

describe("buildTimeline", () => {
  it("joins a tool call and its result, classifies prompts, and flags failures", () => {
    const entries = buildTimeline([
      event(1, { eventType: "UserPromptSubmit", message: "fix it" }),
      event(2, { eventType: "PreToolUse", toolName: "Bash", toolUseId: "t1" }),
      event(3, { eventType: "PostToolUse", toolName: "Bash", toolUseId: "t1" }),
      event(4, { eventType: "PreToolUse", toolName: "Edit", toolUseId: "t2" }),
      event(5, { eventType: "PostToolUseFailure", toolName: "Edit", toolUseId: "t2", level: "error" }),
      event(6, { eventType: "Stop" }),
    ]);
    expect(entries.map((e) => [e.kind, e.event.seq, e.result?.seq ?? null, e.failed])).toEqual([
      ["prompt", 1, null, false],
      ["tool", 2, 3, false],
      ["tool", 4, 5, true],
      ["event", 6, null, false],
    ]);
  });

  it("joins a transcript's tool result (a user line) to its call, past a progress line and a permission prompt", () => {
    const entries = buildTimeline([
      event(1, { eventType: "user", source: "transcript", message: "grep the sources" }),
      event(2, { eventType: "assistant", source: "transcript", toolName: "Grep", toolUseId: "tu1" }),
      event(3, { eventType: "progress", source: "transcript", toolUseId: "tu1" }),
      event(4, { eventType: "PermissionRequest", toolName: "Grep", toolUseId: "tu1" }),
      event(5, { eventType: "user", source: "transcript", toolUseId: "tu1", message: "Found 2 files" }),
    ]);
    expect(entries.map((e) => [e.kind, e.event.seq, e.result?.seq ?? null])).toEqual([
      ["prompt", 1, null],
      ["tool", 2, 5],
      ["tool", 3, null],
      ["tool", 4, null],
    ]);
  });

  it("shows a result whose call is not loaded as an entry of its own", () => {
    const entries = buildTimeline([event(9, { eventType: "PostToolUse", toolName: "Read", toolUseId: "gone" })]);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ kind: "tool", result: null });
  });
});

describe("toolEventLabel", () => {
  it("names what a tool's entry is about when it is not the call or its result", () => {
    const entries = buildTimeline([
      event(1, { eventType: "PreToolUse", toolName: "Bash", toolUseId: "t1" }),
      event(2, { eventType: "PostToolUse", toolName: "Bash", toolUseId: "t1" }),
      event(3, { eventType: "PermissionRequest", toolName: "Bash", message: "Bash: rm -rf build" }),
      event(4, { eventType: "PermissionDenied", toolName: "Bash", toolUseId: "t2", message: "Bash: rm -rf build" }),
      event(5, { eventType: "assistant", source: "transcript", toolName: "Read", toolUseId: "t3" }),
      event(6, { eventType: "Notification", message: "Claude needs your permission" }),
    ]);
    expect(entries.map((e) => [e.event.seq, toolEventLabel(e)])).toEqual([
      [1, null],
      [3, "PermissionRequest"],
      [4, "PermissionDenied"],
      [5, null],
      [6, null],
    ]);
  });
});

describe("entryIndexOf", () => {
  it("finds the entry an event is drawn in, a tool result in its call's entry", () => {
    const entries = buildTimeline([
      event(1, { eventType: "UserPromptSubmit" }),
      event(2, { eventType: "PreToolUse", toolName: "Bash", toolUseId: "t1" }),
      event(3, { eventType: "PostToolUse", toolName: "Bash", toolUseId: "t1" }),
      event(4, { eventType: "Stop" }),
    ]);
    expect(entryIndexOf(entries, "e1")).toBe(0);
    expect(entryIndexOf(entries, "e2")).toBe(1);
    expect(entryIndexOf(entries, "e3")).toBe(1);
    expect(entryIndexOf(entries, "e4")).toBe(2);
    expect(entryIndexOf(entries, "e9")).toBe(-1);
  });
});
