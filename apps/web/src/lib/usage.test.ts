import { describe, expect, it } from "vitest";

import { chartPoints } from "./usage";
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
