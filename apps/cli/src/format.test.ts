import { stripVTControlCharacters } from "node:util";

import { describe, expect, it } from "vitest";

import picocolors from "picocolors";

import {
  formatAgo,
  formatCost,
  formatCount,
  formatDuration,
  formatPricedCost,
  oneLine,
  printable,
  sessionName,
} from "./format.js";
import { cellWidth } from "./fit.js";
import { renderEntry } from "./render.js";
import type { TimelineEntry } from "./timeline.js";
import type { Session } from "./types.js";

describe("format", () => {
  it("counts: the noun agrees with the number, irregular plurals given", () => {
    expect(formatCount(1, "event")).toBe("1 event");
    expect(formatCount(0, "event")).toBe("0 events");
    expect(formatCount(1, "entry", "entries")).toBe("1 entry");
    expect(formatCount(1234, "entry", "entries")).toBe("1,234 entries");
  });

  it("money: cents, four decimals under a cent, a mark when some responses have no price", () => {
    expect(formatCost(0)).toBe("$0.00");
    expect(formatCost(11.142899)).toBe("$11.14");
    expect(formatCost(0.0042)).toBe("$0.0042");
    expect(formatPricedCost(1.5, 0)).toBe("$1.50");
    expect(formatPricedCost(1.5, 3)).toBe("$1.50*");
    expect(formatPricedCost(0, 3)).toBe("unpriced");
    expect(formatPricedCost(0, 0)).toBe("$0.00");
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
    // Characters, not UTF-16 units: an emoji is never cut in half.
    expect(oneLine("ab😀😀😀", 4)).toBe("ab😀…");
    expect(oneLine("😀😀", 2)).toBe("😀😀");
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

describe("stored text on a terminal", () => {
  const ESC = "\u001b";
  it("loses its escape sequences and shows other control characters as U+FFFD", () => {
    expect(printable(`${ESC}[32m ok ${ESC}[39m ${ESC}[2J${ESC}[31mEVIL${ESC}[0m`)).toBe(" ok  EVIL");
    expect(printable(`${ESC}]0;new title\u0007link ${ESC}]52;c;Zm9v\u0007`)).toBe("link ");
    expect(printable("a\r\nb\rc\u0000d\u009be\u0008f\tg")).toBe("a\nb\nc\ufffdd\ufffde\ufffdf\tg");
    // A cut through a colour code would have left the terminal red: the codes go first.
    expect(oneLine(`${ESC}[31m${"x".repeat(20)}`, 10)).toBe(`${"x".repeat(9)}…`);
  });

  it("with --full, a text's later lines start under its first", () => {
    const colors = picocolors.createColors(false);
    const entry: TimelineEntry = {
      eventId: "e1",
      sessionId: "s1",
      at: "2026-12-01T10:00:00.000Z",
      kind: "tool_result",
      eventType: "PostToolUse",
      source: "hook",
      tool: "Bash",
      toolUseId: "t1",
      text: "one\ntwo\r\nthree",
    };
    expect(renderEntry(entry, colors, { full: true, prefix: "  ", timeZone: "UTC" }).split("\n")).toEqual([
      "  10:00:00    ↳ one",
      "                two",
      "                three",
    ]);
  });

  it("on one line, fits the width when there is one (the terminal's or COLUMNS)", () => {
    const colors = picocolors.createColors(true);
    const entry: TimelineEntry = {
      eventId: "e1",
      sessionId: "s1",
      at: "2026-12-01T10:00:00.000Z",
      kind: "prompt",
      eventType: "UserPromptSubmit",
      source: "hook",
      tool: null,
      toolUseId: null,
      text: "日本語の長いプロンプト ".repeat(10),
    };
    const line = renderEntry(entry, colors, { prefix: "  ", timeZone: "UTC", width: 40 });
    expect(cellWidth(line)).toBeLessThanOrEqual(40);
    expect(stripVTControlCharacters(line)).toMatch(/^ {2}10:00:00 {2}› 日本語の長い.*…$/);
    expect(cellWidth(renderEntry(entry, colors, { prefix: "  ", timeZone: "UTC" }))).toBeGreaterThan(100);
  });
});
