import { describe, expect, it } from "vitest";

import { formatDay, formatTimeOfDay, formatTimestamp, startOfDay } from "./time.js";

describe("times in a zone", () => {
  const at = "2026-11-30T22:05:09.000Z";

  it("reads an instant on the zone's wall clock: the day may differ from UTC's", () => {
    expect(formatTimestamp(at, "UTC")).toBe("2026-11-30 22:05");
    expect(formatTimestamp(at, "Asia/Tokyo")).toBe("2026-12-01 07:05");
    expect(formatTimestamp(at, "America/Los_Angeles")).toBe("2026-11-30 14:05");
    expect(formatTimeOfDay(at, "Asia/Kolkata")).toBe("03:35:09");
    expect(formatDay(at, "Asia/Kolkata")).toBe("2026-12-01");
  });

  it("writes midnight as 00, not 24", () => {
    expect(formatTimeOfDay("2026-12-01T00:00:00Z", "UTC")).toBe("00:00:00");
    expect(formatTimestamp("2026-11-30T15:00:00Z", "Asia/Tokyo")).toBe("2026-12-01 00:00");
  });

  it("finds when a day begins in a zone, daylight saving included", () => {
    expect(startOfDay("2026-11-30", "UTC")).toBe("2026-11-30T00:00:00.000Z");
    expect(startOfDay("2026-11-30", "Asia/Tokyo")).toBe("2026-11-29T15:00:00.000Z");
    expect(startOfDay("2026-07-01", "Europe/Paris")).toBe("2026-06-30T22:00:00.000Z");
    expect(startOfDay("2026-12-01", "Europe/Paris")).toBe("2026-11-30T23:00:00.000Z");
    // The day clocks go forward in New York (at 02:00): its midnight is still EST.
    expect(startOfDay("2026-03-08", "America/New_York")).toBe("2026-03-08T05:00:00.000Z");
    // Chile's DST change skips midnight itself (2026-09-06 00:00 does not exist there): 01:00 is the first minute.
    expect(startOfDay("2026-09-06", "America/Santiago")).toBe("2026-09-06T04:00:00.000Z");
  });
});
