import { describe, expect, it } from "vitest";

import type { CliEnvironment } from "./config.js";
import { createOutput, jsonEscaped, terminalSafe } from "./output.js";

const environment = (color: boolean): CliEnvironment => ({
  home: "/nowhere",
  envUrl: undefined,
  envApiKey: undefined,
  color,
  interactive: false,
  canOpenBrowser: false,
  timeZone: "UTC",
  width: undefined,
});

describe("createOutput", () => {
  it("colors and draws boxes only when the environment allows colors, and never with --json", () => {
    expect(createOutput(environment(true), false).colors.red("x")).toContain("\u001b[");
    expect(createOutput(environment(false), false).colors.red("x")).toBe("x");
    expect(createOutput(environment(true), true).colors.red("x")).toBe("x");
    expect(createOutput(environment(true), false).table(["A"], [["1"]])).toContain("┌");
  });

  it("without a terminal, a table is plain columns: a header line and one line per row", () => {
    const table = createOutput(environment(false), false).table(
      ["NAME", "N"],
      [
        ["alpha", "1"],
        ["b", "200"],
      ],
      { alignRight: [1] },
    );
    expect(table.split("\n").map((line) => line.trimEnd())).toEqual(["NAME     N", "alpha    1", "b      200"]);
  });

  it("runs the work without a spinner when stderr is not a terminal", async () => {
    await expect(createOutput(environment(false), false).spin("x", async () => 42)).resolves.toBe(42);
  });
});

describe("the last guard before the terminal", () => {
  it("keeps colours (SGR) and shows any other escape or control character as U+FFFD", () => {
    expect(terminalSafe("\u001b[1;31mred\u001b[0m\tx\n")).toBe("\u001b[1;31mred\u001b[0m\tx\n");
    expect(terminalSafe("\u001b[2Jclear \u001b]0;t\u0007 \u009b2J \r")).toBe(
      "\ufffd[2Jclear \ufffd]0;t\ufffd \ufffd2J \ufffd",
    );
  });

  it("writes DEL and C1 characters in JSON as escapes: the same value for a parser", () => {
    const text = JSON.stringify({ title: "a\u009bb\u007fc\u001bd" });
    expect(jsonEscaped(text)).toBe(String.raw`{"title":"a\u009bb\u007fc\u001bd"}`);
    expect(JSON.parse(jsonEscaped(text))).toEqual({ title: "a\u009bb\u007fc\u001bd" });
  });
});
