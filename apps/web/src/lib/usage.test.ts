import { describe, expect, it } from "vitest";

import { axisLabels, chartPoints, PERIODS, usageChoicesFromSearch, usageChoicesToSearch } from "./usage";
import type { UsageReport } from "./types";

const row = (key: string, costUsd: number, totalTokens: number, label: string | null = null) =>
  ({ key, label, costUsd, totalTokens }) as unknown as UsageReport["rows"][number];

describe("chartPoints", () => {
  it("days in time order, keeping the latest when there are too many", () => {
    const rows = [row("2026-11-30", 1, 10), row("2026-11-28", 3, 30), row("2026-11-29", 2, 20)];
    expect(chartPoints({ groupBy: "day", rows }).map((p) => p.key)).toEqual(["2026-11-28", "2026-11-29", "2026-11-30"]);
    expect(chartPoints({ groupBy: "day", rows }, 2).map((p) => p.key)).toEqual(["2026-11-29", "2026-11-30"]);
  });

  it("other groupings by cost, then tokens, largest first, labelled by name when there is one", () => {
    const rows = [row("a", 1, 10), row("b", 5, 1, "big project"), row("c", 1, 99)];
    expect(chartPoints({ groupBy: "project", rows }).map((p) => p.label)).toEqual(["big project", "c", "a"]);
  });
});

describe("axisLabels", () => {
  it("two models alike in their first characters read differently under their bars", () => {
    const rows = [
      row("claude-sonnet-4-5-20250929", 2, 10),
      row("claude-sonnet-4-5-20251101", 1, 10),
      row("opus", 1, 1),
    ];
    const labels = axisLabels(chartPoints({ groupBy: "model", rows }), "model");
    expect(labels.get("claude-sonnet-4-5-20250929")).toBe("claude-…4-5-20250929");
    expect(labels.get("claude-sonnet-4-5-20251101")).toBe("claude-…4-5-20251101");
    expect(labels.get("opus")).toBe("opus");
  });

  it("projects by the end of their path that tells them apart", () => {
    const rows = [
      row("p1", 2, 1, "/home/me/client-a/app"),
      row("p2", 1, 1, "/home/me/client-b/app"),
      row("none", 0, 1),
    ];
    const labels = axisLabels(chartPoints({ groupBy: "project", rows }), "project");
    expect(Object.fromEntries(labels)).toEqual({ p1: "client-a/app", p2: "client-b/app", none: "none" });
  });
});

describe("usage choices in the address", () => {
  it("round-trips, leaves the defaults out and takes anything unknown for them", () => {
    const choices = { groupBy: "model" as const, period: PERIODS[2] };
    expect(usageChoicesToSearch(choices)).toBe("per=model&over=90");
    expect(usageChoicesFromSearch("per=model&over=90")).toEqual(choices);
    expect(usageChoicesFromSearch("over=all").period.days).toBeNull();
    expect(usageChoicesToSearch(usageChoicesFromSearch("per=nonsense&over=12"))).toBe("");
  });
});
