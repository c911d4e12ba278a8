import { describe, expect, it } from "vitest";

import { CliError } from "./exit-codes.js";
import { parseTimeArgument } from "./since.js";

const now = new Date("2026-12-01T12:00:00.000Z");

describe("parseTimeArgument", () => {
  it("reads ages back from now", () => {
    expect(parseTimeArgument("30m", "--since", { now })).toBe("2026-12-01T11:30:00.000Z");
    expect(parseTimeArgument("12h", "--since", { now })).toBe("2026-12-01T00:00:00.000Z");
    expect(parseTimeArgument("7d", "--since", { now })).toBe("2026-11-24T12:00:00.000Z");
    expect(parseTimeArgument("2w", "--since", { now })).toBe("2026-11-17T12:00:00.000Z");
  });

  it("reads days (UTC midnight) and date-times with an offset", () => {
    expect(parseTimeArgument("2026-11-30", "--since", { now })).toBe("2026-11-30T00:00:00.000Z");
    expect(parseTimeArgument("2026-11-30T14:00:00+02:00", "--since", { now })).toBe("2026-11-30T12:00:00.000Z");
  });

  it("reads a day as its midnight in the zone given (this machine's, for people)", () => {
    expect(parseTimeArgument("2026-11-30", "--since", { now, timeZone: "Asia/Tokyo" })).toBe(
      "2026-11-29T15:00:00.000Z",
    );
    expect(parseTimeArgument("2026-11-30T14:00:00Z", "--since", { now, timeZone: "Asia/Tokyo" })).toBe(
      "2026-11-30T14:00:00.000Z",
    );
  });

  it("keeps a day as it is when asked, for an API that reads it in its own time zone", () => {
    expect(parseTimeArgument("2026-11-30", "--since", { now, keepDays: true })).toBe("2026-11-30");
    expect(parseTimeArgument("7d", "--since", { now, keepDays: true })).toBe("2026-11-24T12:00:00.000Z");
    expect(() => parseTimeArgument("2026-02-30", "--since", { now, keepDays: true })).toThrow(CliError);
  });

  it("refuses an age that reaches back before the year 1", () => {
    expect(parseTimeArgument("700000d", "--since", { now })).toMatch(/^0110-/);
    for (const far of ["800000d", "99999999d", "9999999999999999w"]) {
      expect(() => parseTimeArgument(far, "--since", { now })).toThrow(
        `--since ${far}: reaches back before the year 1`,
      );
    }
  });

  it("refuses anything else as a usage error that names the option", () => {
    for (const bad of ["yesterday", "7", "7y", "2026-02-30", "2026-11-30T14:00:00", ""]) {
      expect(() => parseTimeArgument(bad, "--until", { now })).toThrow(CliError);
      try {
        parseTimeArgument(bad, "--until", { now });
      } catch (error) {
        expect((error as CliError).exitCode).toBe(2);
        expect((error as CliError).message).toContain(`--until ${bad}`);
      }
    }
  });
});
