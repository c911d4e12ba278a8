import { describe, expect, it } from "vitest";

import { deriveSession, hookStatusRule, type DerivableEvent, type SessionState } from "./derive.js";

/** derive.ts alone, with no database: what a batch of new events does to a session row. */
const T0 = new Date("2026-11-30T10:00:00.000Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const state = (overrides: Partial<SessionState> = {}): SessionState => ({
  status: "pending",
  statusChangedAt: T0,
  startedAt: null,
  lastActivityAt: T0,
  initialQuery: null,
  title: null,
  cwd: null,
  ...overrides,
});

let ids = 0;
const hook = (eventType: string, seconds: number, payload: Record<string, unknown> = {}): DerivableEvent => ({
  id: `e${++ids}`,
  eventType,
  source: "hook",
  occurredAt: at(seconds),
  payload: { hook_event_name: eventType, ...payload },
  cwd: undefined,
  machineId: undefined,
  agentType: undefined,
});

describe("hookStatusRule", () => {
  it("maps hook events to statuses, and waiting notices to a reason", () => {
    expect(hookStatusRule(hook("SessionStart", 0))).toEqual({ to: "active", reopen: true });
    expect(hookStatusRule(hook("Stop", 0))).toEqual({ to: "idle" });
    expect(hookStatusRule(hook("PermissionRequest", 0, { tool_name: "Bash" }))).toEqual({
      to: "waiting_input",
      reason: "permission: Bash",
    });
    expect(hookStatusRule(hook("SessionEnd", 0, { reason: "logout" }))).toEqual({ to: "completed" });
    expect(hookStatusRule(hook("SessionEnd", 0, { reason: "other" }))).toEqual({ to: "terminated" });
    expect(hookStatusRule(hook("Notification", 0, { message: "just saying" }))).toBeNull();
    expect(hookStatusRule(hook("constructor", 0))).toBeNull();
  });
});

describe("deriveSession", () => {
  it("starts the session on its first prompt and keeps that prompt as the initial query", () => {
    const derived = deriveSession(state(), [
      hook("SessionStart", 1),
      hook("UserPromptSubmit", 2, { prompt: "fix the tests" }),
      hook("UserPromptSubmit", 3, { prompt: "and the docs" }),
    ]);
    expect(derived.statusChanged).toBe(true);
    expect(derived.patch).toMatchObject({ initial_query: "fix the tests" });
    expect(derived.messages.map((m) => [m.role, m.text])).toEqual([
      ["user", "fix the tests"],
      ["user", "and the docs"],
    ]);
  });

  it("orders a batch by time, and a late old event never drags the status back", () => {
    const derived = deriveSession(state({ status: "idle", statusChangedAt: at(10), startedAt: at(0) }), [
      hook("SessionEnd", 20, { reason: "logout" }),
      hook("UserPromptSubmit", 5, { prompt: "late" }),
    ]);
    expect(derived.patch).toMatchObject({ ended_at: at(20) });
    expect(derived.statusChanged).toBe(true);
    const late = deriveSession(state({ status: "idle", statusChangedAt: at(10) }), [hook("SessionStart", 5)]);
    expect(late.statusChanged).toBe(false);
  });

  it("reopens a completed session when the agent resumes it, clearing its end", () => {
    const derived = deriveSession(state({ status: "completed", statusChangedAt: at(10), startedAt: at(0) }), [
      hook("SessionStart", 20),
    ]);
    expect(derived.statusChanged).toBe(true);
    expect(derived.patch).toMatchObject({ ended_at: null });
    const refused = deriveSession(state({ status: "failed", statusChangedAt: at(10) }), [hook("Stop", 20)]);
    expect(refused.statusChanged).toBe(false);
  });
});
