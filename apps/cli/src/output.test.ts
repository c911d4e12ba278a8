import { describe, expect, it } from "vitest";

import type { CliEnvironment } from "./config.js";
import { createOutput } from "./output.js";

const environment = (color: boolean): CliEnvironment => ({
  home: "/nowhere",
  envUrl: undefined,
  envApiKey: undefined,
  color,
  interactive: false,
  canOpenBrowser: false,
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
