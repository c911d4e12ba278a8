import { KNOWN_EVENT_TYPES } from "@logbook/contracts";
import { describe, expect, it } from "vitest";

import { deriveSession, hookStatusRule, type DerivableEvent, type SessionState } from "./derive.js";

/** derive.ts alone, with no database: what a batch of new events does to a session row. */
const T0 = new Date("2026-11-30T10:00:00.000Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const state = (overrides: Partial<SessionState> = {}): SessionState => ({
  status: "pending",
  statusReason: null,
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
    expect(hookStatusRule(hook("SessionEnd", 0, { reason: "logout" }))).toEqual({
      to: "completed",
      reason: "session_end: logout",
    });
    expect(hookStatusRule(hook("SessionEnd", 0, { reason: "other" }))).toEqual({
      to: "terminated",
      reason: "session_end: other",
    });
    expect(hookStatusRule(hook("SessionEnd", 0))).toEqual({ to: "terminated", reason: "session_end" });
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

  it("lets any later event overrule an end the inactivity sweep guessed from silence, and only that end", () => {
    const line = (seconds: number): DerivableEvent => ({ ...hook("assistant", seconds), source: "transcript" });
    const swept = state({ status: "terminated", statusReason: "no events for 24 h", statusChangedAt: at(10) });

    const tool = deriveSession(swept, [hook("PostToolUse", 20, { tool_name: "Bash" })]);
    expect(tool.patch).toMatchObject({ status: "active", status_reason: null, ended_at: null });
    const resumedTranscript = deriveSession(swept, [line(20)]);
    expect(resumedTranscript.patch).toMatchObject({ status: "idle", status_reason: null, ended_at: null });
    // The agent's own report of its end replaces the guess.
    const reportedEnd = deriveSession(swept, [hook("SessionEnd", 20, { reason: "logout" })]);
    expect(reportedEnd.patch).toMatchObject({
      status: "completed",
      status_reason: "session_end: logout",
      ended_at: at(20),
    });
    // So does the API's `session_terminated`: the end is then one the agent reported (no reason).
    const reportedByApi = deriveSession(swept, [{ ...hook("session_terminated", 20), source: "api" }]);
    expect(reportedByApi.patch).toMatchObject({ status: "terminated", status_reason: null, ended_at: at(20) });
    // Also when it reports the status the sweep guessed: its reason and time replace the guess.
    const reportedSameEnd = deriveSession(swept, [hook("SessionEnd", 20, { reason: "other" })]);
    expect(reportedSameEnd.patch).toMatchObject({
      status: "terminated",
      status_reason: "session_end: other",
      status_changed_at: at(20),
      ended_at: at(20),
    });
    // A line written before the sweep's end, arriving late, is no sign of life.
    expect(deriveSession(swept, [line(10)]).statusChanged).toBe(false);
    expect(deriveSession(swept, [line(5)]).statusChanged).toBe(false);

    // An end the agent reported stands; so does one a person or program set with another reason.
    const reported = state({ status: "terminated", statusReason: null, statusChangedAt: at(10) });
    expect(deriveSession(reported, [line(20)]).statusChanged).toBe(false);
    expect(deriveSession(reported, [hook("PostToolUse", 20)]).statusChanged).toBe(false);
    const otherReason = state({ status: "terminated", statusReason: "no events for a while", statusChangedAt: at(10) });
    expect(deriveSession(otherReason, [hook("PostToolUse", 20)]).statusChanged).toBe(false);
    const completed = state({ status: "completed", statusReason: "no events for 24 h", statusChangedAt: at(10) });
    expect(deriveSession(completed, [line(20)]).statusChanged).toBe(false);
  });
});

describe("the newer hook events", () => {
  it("every documented hook event moves the status where it means something, and leaves it otherwise", () => {
    const active = { to: "active" };
    const resumes = { to: "active", reopen: true };
    const expected: Record<string, object> = {
      SessionStart: resumes,
      UserPromptSubmit: resumes,
      UserPromptExpansion: resumes,
      PreToolUse: active,
      PostToolUse: active,
      PostToolUseFailure: active,
      PostToolBatch: active,
      PermissionDenied: active,
      SubagentStart: active,
      TaskCreated: active,
      TaskCompleted: active,
      MessageDisplay: active,
      ElicitationResult: active,
      PermissionRequest: { to: "waiting_input", reason: "permission" },
      Elicitation: { to: "waiting_input", reason: "elicitation" },
      Stop: { to: "idle" },
      StopFailure: { to: "idle" },
      SubagentStop: { to: "completed" },
      SessionEnd: { to: "terminated", reason: "session_end" },
    };
    for (const name of KNOWN_EVENT_TYPES.claudeCodeHooks)
      expect(hookStatusRule(hook(name, 0)), name).toEqual(expected[name] ?? null);
  });

  it("a model switch sets the model once it happened, not when it is asked for", () => {
    const asked = deriveSession(state(), [
      hook("PreModelSwitch", 1, { from_model: "claude-sonnet-4-5", to_model: "claude-opus-4-5" }),
    ]);
    expect(asked.patch).not.toHaveProperty("model");
    const switched = deriveSession(state(), [
      hook("SessionStart", 1, { model: "claude-sonnet-4-5" }),
      hook("PostModelSwitch", 2, { from_model: "claude-sonnet-4-5", to_model: "claude-opus-4-5" }),
    ]);
    expect(switched.patch.model).toBe("claude-opus-4-5");
  });

  it("a directory or worktree change moves the session's cwd; an added directory does not", () => {
    const moved = deriveSession(state({ cwd: "/w/atlas" }), [
      hook("CwdChanged", 1, { old_cwd: "/w/atlas", new_cwd: "/w/atlas/packages/tiles" }),
      hook("DirectoryAdded", 2, { directory: "/w/shared" }),
    ]);
    expect(moved.patch.cwd).toBe("/w/atlas/packages/tiles");

    const worktree = deriveSession(state({ cwd: "/w/atlas" }), [
      hook("WorktreeCreate", 1, { cwd: "/w/atlas", name: "tiles", worktree_path: "/w/atlas-tiles" }),
    ]);
    expect(worktree.patch.cwd).toBe("/w/atlas-tiles");
    expect(worktree.metadata.worktree).toEqual({ name: "tiles", path: "/w/atlas-tiles" });

    const back = deriveSession(state({ cwd: "/w/atlas-tiles" }), [
      hook("WorktreeRemove", 1, { cwd: "/w/atlas", worktree_path: "/w/atlas-tiles" }),
    ]);
    expect(back.patch.cwd).toBe("/w/atlas");
    expect(back.metadata.worktree).toBeNull();

    const elsewhere = deriveSession(state({ cwd: "/w/atlas" }), [
      hook("WorktreeRemove", 1, { cwd: "/w/atlas", worktree_path: "/w/other-tree" }),
    ]);
    expect(elsewhere.patch).not.toHaveProperty("cwd");
    expect(elsewhere.metadata).not.toHaveProperty("worktree");
  });
});
