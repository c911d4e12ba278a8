import picocolors from "picocolors";
import { describe, expect, it } from "vitest";

import { formatStatus } from "./sessions-table.js";

describe("formatStatus", () => {
  const colors = picocolors.createColors(true);

  it("makes a failure and a session waiting for the person stand out, and dims what is over", () => {
    expect(formatStatus("failed", colors)).toBe(colors.red("failed"));
    expect(formatStatus("waiting_input", colors)).toBe(colors.bold(colors.yellow("waiting_input")));
    expect(formatStatus("active", colors)).toBe(colors.green("active"));
    // A session the quiet sweep ended is over, not failed.
    for (const over of ["terminated", "completed", "cancelled", "idle"] as const) {
      expect(formatStatus(over, colors)).toBe(colors.dim(over));
    }
  });

  it("is the bare word without colors", () => {
    expect(formatStatus("terminated", picocolors.createColors(false))).toBe("terminated");
  });
});
