import { SESSION_STATUSES, isTerminalStatus, type SessionStatus } from "@logbook/contracts";
import { describe, expect, it } from "vitest";

import { AppError } from "../errors.js";
import { allowedTransitions, assertTransition, canTransition, statusFromSeedWord } from "./session-status.js";

/** The state machine alone: no database. */
describe("session status state machine", () => {
  it("stays put, and leaves a terminal state only by reopening into a live one", () => {
    for (const status of SESSION_STATUSES) expect(canTransition(status, status)).toBe(true);
    expect(allowedTransitions("completed")).toEqual([]);
    expect(canTransition("completed", "active")).toBe(false);
    expect(canTransition("completed", "active", { reopen: true })).toBe(true);
    expect(canTransition("terminated", "idle", { reopen: true })).toBe(true);
    expect(canTransition("completed", "failed", { reopen: true })).toBe(false);
    expect(canTransition("failed", "active", { reopen: true })).toBe(false);
    expect(canTransition("cancelled", "active", { reopen: true })).toBe(false);
  });

  it("never goes back to pending or initializing from a running state", () => {
    const running: SessionStatus[] = ["active", "idle", "waiting_input", "paused"];
    for (const from of running) {
      expect(canTransition(from, "pending")).toBe(false);
      expect(canTransition(from, "initializing")).toBe(false);
      for (const to of SESSION_STATUSES.filter(isTerminalStatus)) expect(canTransition(from, to)).toBe(true);
    }
  });

  it("refuses with INVALID_TRANSITION naming where the session can go", () => {
    expect(() => assertTransition("active", "pending")).toThrow(AppError);
    let thrown: unknown;
    try {
      assertTransition("completed", "active");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      code: "INVALID_TRANSITION",
      message: "a session cannot go from completed to active (completed is a terminal state)",
      details: { from: "completed", to: "active", allowed: [] },
    });
    expect(() => assertTransition("idle", "active")).not.toThrow();
  });

  it("maps the seeds' status words, in any case and with spaces", () => {
    expect(statusFromSeedWord(" IN_PROGRESS ")).toBe("active");
    expect(statusFromSeedWord("error")).toBe("failed");
    expect(statusFromSeedWord("inactive")).toBe("idle");
    expect(statusFromSeedWord("not_started")).toBe("pending");
    expect(statusFromSeedWord("archived")).toBeUndefined();
  });
});
