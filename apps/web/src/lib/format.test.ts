import { describe, expect, it } from "vitest";

import {
  formatClock,
  formatCount,
  formatCost,
  formatDuration,
  formatTime,
  formatTokens,
  jobWorkerText,
  statusReasonText,
  timeAgo,
} from "./format";

describe("format", () => {
  it("tokens compact past a thousand", () => {
    expect(formatTokens(999)).toBe("999");
    expect(formatTokens(12_345)).toBe("12.3K");
    expect(formatTokens(2_500_000)).toBe("2.5M");
  });

  it("cost never shows a cheap session as $0.00, and says what is unpriced", () => {
    expect(formatCost(0)).toBe("$0.00");
    expect(formatCost(0.0042)).toBe("$0.0042");
    expect(formatCost(12.5)).toBe("$12.50");
    expect(formatCost(1, 3)).toBe("$1.00 + 3 unpriced");
  });

  it("relative times and durations", () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    expect(timeAgo("2026-12-01T12:00:03Z", now)).toBe("just now");
    expect(timeAgo("2026-12-01T11:59:30Z", now)).toBe("30 s ago");
    expect(timeAgo("2026-12-01T11:00:00Z", now)).toBe("1 h ago");
    expect(timeAgo("2026-11-28T12:00:00Z", now)).toBe("3 d ago");
    expect(formatDuration(65_000)).toBe("1 min 05 s");
    expect(formatDuration(3_720_000)).toBe("1 h 02 min");
  });

  it("dates and times read as the browser's en-GB ones, from formatters made once", () => {
    for (const iso of ["2026-12-01T09:05:07Z", "2026-06-30T23:59:59.999Z"]) {
      const date = new Date(iso);
      expect(formatClock(iso)).toBe(date.toLocaleTimeString("en-GB"));
      expect(formatTime(iso)).toBe(date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" }));
    }
    expect(formatTime(null)).toBe("—");
  });
});

describe("statusReasonText", () => {
  it("puts the waits the server records by code into words, keeping the code and the notice's words", () => {
    expect(statusReasonText("idle_prompt")).toEqual({ text: "waiting for your input", code: "idle_prompt" });
    expect(statusReasonText("permission_prompt: Claude needs your permission to use Bash")).toEqual({
      text: "waiting for your permission: Claude needs your permission to use Bash",
      code: "permission_prompt",
    });
    expect(statusReasonText("permission: Bash")).toEqual({
      text: "waiting for your permission: Bash",
      code: "permission",
    });
    expect(statusReasonText("elicitation_dialog: Pick a branch: main or dev")).toEqual({
      text: "waiting for your answer: Pick a branch: main or dev",
      code: "elicitation_dialog",
    });
    expect(statusReasonText("session_end: logout")).toEqual({
      text: "Claude Code ended it: logout",
      code: "session_end",
    });
  });

  it("leaves a reason that is words already as it is", () => {
    expect(statusReasonText("no events for 2 h")).toEqual({ text: "no events for 2 h", code: null });
    expect(statusReasonText("toString")).toEqual({ text: "toString", code: null });
    expect(statusReasonText("note: something else")).toEqual({ text: "note: something else", code: null });
  });
});

describe("jobWorkerText", () => {
  it("shows a lease only while the job runs; a finished job names the worker that ran it", () => {
    const running = { status: "running", leaseOwner: "w1", leaseExpiresAt: "2026-12-01T10:05:00.000Z" };
    expect(jobWorkerText(running)).toBe(`w1 (lease until ${formatTime(running.leaseExpiresAt)})`);
    expect(jobWorkerText({ status: "completed", leaseOwner: "w1", leaseExpiresAt: null })).toBe("ran on w1");
    expect(jobWorkerText({ status: "failed", leaseOwner: "w1", leaseExpiresAt: null })).toBe("ran on w1");
    expect(jobWorkerText({ status: "pending", leaseOwner: null, leaseExpiresAt: null })).toBe("—");
  });
});

describe("formatCount", () => {
  it("one, or more, with the thousands grouped", () => {
    expect(formatCount(1, "entry", "entries")).toBe("1 entry");
    expect(formatCount(0, "entry", "entries")).toBe("0 entries");
    expect(formatCount(1000, "entry", "entries")).toBe("1,000 entries");
  });
});
