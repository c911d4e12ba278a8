import { describe, expect, it } from "vitest";

import { RSS_TREND_MIN_MS, rssTrend } from "./suites/load.js";

/** A sawtooth like the load suite's server: fills to `top`, falls back to `low`, every `period` samples. */
function sawtooth(samples: number, period: number, low: (i: number) => number, top = 250): number[] {
  return Array.from({ length: samples }, (_, i) => {
    const base = low(i);
    return base + ((top - 160) * (i % period)) / (period - 1);
  });
}

describe("rssTrend", () => {
  const fiveMinutes = 300_000;

  it("sees no growth in a steady sawtooth, wherever its teeth fall", () => {
    for (let shift = 0; shift < 17; shift++) {
      const samples = sawtooth(61 + shift, 17, () => 160).slice(shift);
      const trend = rssTrend(samples, fiveMinutes);
      expect(trend.lowGrowthPercent).toBeLessThan(15);
      expect(trend.judged).toBe(true);
    }
  });

  it("sees lows that rise: 1.5 MiB a sample (a leak of 18 MiB a minute at 5 s samples)", () => {
    const trend = rssTrend(
      sawtooth(61, 12, (i) => 160 + 1.5 * i),
      fiveMinutes,
    );
    expect(trend.lowGrowthPercent).toBeGreaterThan(15);
  });

  it("the load suite's run of 2026-12-03 07:33 (a sawtooth of 156-251 MiB): lows up 3 %", () => {
    // prettier-ignore
    const run = [95, 149, 138, 147, 151, 159, 164, 185, 200, 200, 238, 242, 242, 243, 251, 251, 220, 183, 160, 160, 156,
      168, 172, 172, 168, 170, 164, 168, 199, 199, 199, 213, 239, 243, 244, 207, 207, 202, 202, 202, 224, 248, 250, 195,
      161, 163, 163, 183, 207, 234, 236, 236, 213, 214, 214, 217, 240, 244, 174, 174, 171];
    expect(rssTrend(run, fiveMinutes)).toEqual({
      middleLowMiB: 156,
      lastLowMiB: 161,
      lowGrowthPercent: 3.2,
      judged: true,
    });
  });

  it("does not judge a run too short for a collection (the heap still filling)", () => {
    const filling = Array.from({ length: 21 }, (_, i) => 92 + 6 * i);
    expect(rssTrend(filling, RSS_TREND_MIN_MS - 1).judged).toBe(false);
    expect(rssTrend(filling, RSS_TREND_MIN_MS).judged).toBe(true);
  });
});
