import { describe, expect, it } from "vitest";

import { formatAgo, formatCost, formatDuration, formatPricedCost, oneLine, sessionName } from "./format.js";
import type { Session } from "./types.js";

describe("format", () => {
  it("money: cents, four decimals under a cent, a mark when some responses have no price", () => {
    expect(formatCost(0)).toBe("$0.00");
    expect(formatCost(11.142899)).toBe("$11.14");
    expect(formatCost(0.0042)).toBe("$0.0042");
    expect(formatPricedCost(1.5, 0)).toBe("$1.50");
    expect(formatPricedCost(1.5, 3)).toBe("$1.50*");
  });

  it("durations and ages", () => {
    expect(formatDuration(42)).toBe("42s");
    expect(formatDuration(303)).toBe("5m 3s");
    expect(formatDuration(7800)).toBe("2h 10m");
    expect(formatDuration(3 * 86_400 + 4 * 3600)).toBe("3d 4h");
    const now = new Date("2026-12-01T12:00:00Z");
    expect(formatAgo("2026-12-01T11:59:50Z", now)).toBe("just now");
    expect(formatAgo("2026-12-01T11:55:00Z", now)).toBe("5m ago");
    expect(formatAgo("2026-11-29T12:00:00Z", now)).toBe("2d ago");
  });

  it("one line, cut with an ellipsis", () => {
    expect(oneLine("a\n  b\tc", 10)).toBe("a b c");
    expect(oneLine("abcdefghij", 5)).toBe("abcd…");
  });

  it("a session's name: title, else first prompt without slash-command tags, else a subagent's type, else (untitled)", () => {
    const base = {
      title: null,
      label: null,
      initialQuery: null,
      parentSessionId: null,
      agentType: null,
    } as unknown as Session;
    expect(sessionName({ ...base, title: "Fix login" })).toBe("Fix login");
    expect(
      sessionName({
        ...base,
        initialQuery: "<command-message>init is analyzing</command-message>\n<command-name>/init</command-name>",
      }),
    ).toBe("/init");
    expect(sessionName(base)).toBe("(untitled)");
    const parentSessionId = "0193a5f0-0000-7000-8000-000000000001";
    expect(sessionName({ ...base, parentSessionId, agentType: "Explore" })).toBe("(Explore subagent)");
    expect(sessionName({ ...base, parentSessionId, agentType: "Explore", title: "Find the config" })).toBe(
      "Find the config",
    );
    // A top-level session's agent type is the tool (claude-code), not a name.
    expect(sessionName({ ...base, agentType: "claude-code" })).toBe("(untitled)");
    expect(sessionName({ ...base, parentSessionId })).toBe("(untitled)");
  });
});
