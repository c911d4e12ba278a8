import { describe, expect, it } from "vitest";

import { labelRows, rollUpDays, totalsOf, weekOf, type TotalsInput } from "./usage-report.js";

const day = (key: string, inputTokens: number, costUsd = 0, sessions = 1): TotalsInput => ({
  key,
  sessions,
  inputTokens,
  outputTokens: 1,
  cacheReadTokens: 2,
  cacheCreationTokens: 3,
  costUsd,
});

describe("usage roll-ups", () => {
  it("weeks start on Monday (ISO), in UTC", () => {
    expect(weekOf("2026-11-30")).toBe("2026-11-30"); // a Monday
    expect(weekOf("2026-12-06")).toBe("2026-11-30"); // the Sunday after
    expect(weekOf("2026-12-07")).toBe("2026-12-07");
    expect(weekOf("2027-01-01")).toBe("2026-12-28"); // across a year
  });

  it("adds days into weeks and months, oldest first, keeping every count", () => {
    // The API answers newest first.
    const days = [
      day("2026-12-07", 40, 0.4),
      day("2026-12-01", 20, 0.2, 2),
      day("2026-11-30", 10, 0.1),
      day("2026-10-31", 5),
    ];
    expect(rollUpDays(days, "daily").map((r) => r.key)).toEqual([
      "2026-10-31",
      "2026-11-30",
      "2026-12-01",
      "2026-12-07",
    ]);
    const weeks = rollUpDays(days, "weekly");
    expect(weeks.map((r) => [r.key, r.label, r.inputTokens, r.sessions])).toEqual([
      ["2026-10-26", "week of 2026-10-26", 5, 1],
      ["2026-11-30", "week of 2026-11-30", 30, 3],
      ["2026-12-07", "week of 2026-12-07", 40, 1],
    ]);
    expect(weeks[1]!.totalTokens).toBe(30 + 2 * (1 + 2 + 3));
    expect(weeks[1]!.costUsd).toBeCloseTo(0.3, 10);
    const months = rollUpDays(days, "monthly");
    expect(months.map((r) => [r.key, r.inputTokens])).toEqual([
      ["2026-10", 5],
      ["2026-11", 10],
      ["2026-12", 60],
    ]);
    expect(totalsOf(months)).toEqual(totalsOf(rollUpDays(days, "daily")));
    expect(totalsOf(months)).toMatchObject({ inputTokens: 75, sessions: 5, totalTokens: 75 + 4 * 6 });
  });

  it("labels session and project rows, keeping the API's order", () => {
    const rows = labelRows([day("b", 2), day("a", 1)], (key) => (key === "a" ? "Alpha" : key));
    expect(rows.map((r) => [r.key, r.label])).toEqual([
      ["b", "b"],
      ["a", "Alpha"],
    ]);
  });

  it("totals of nothing are zero", () => {
    expect(totalsOf([])).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      costUsd: 0,
      sessions: 0,
      totalTokens: 0,
    });
  });
});
