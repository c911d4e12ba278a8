import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { heapGrowthFlag } from "./heap.js";

describe("heapGrowthFlag", () => {
  it("is V8's growing-percent flag for a whole number of percent", () => {
    expect(heapGrowthFlag(20)).toBe("--heap-growing-percent=20");
    expect(heapGrowthFlag(1000)).toBe("--heap-growing-percent=1000");
  });

  it("refuses what V8 would read as its own rule or misread", () => {
    for (const bad of [0, -5, 12.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => heapGrowthFlag(bad)).toThrow(RangeError);
    }
  });
});

describe("limitHeapGrowth", () => {
  // In a process of its own: a V8 flag set here would govern the test worker's heap too.
  const run = (percent: number) => {
    const child = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `import { limitHeapGrowth } from ${JSON.stringify(fileURLToPath(new URL("./heap.ts", import.meta.url)))};
         limitHeapGrowth(${percent});
         process.stdout.write("set");`,
      ],
      { cwd: fileURLToPath(new URL("..", import.meta.url)), encoding: "utf8" },
    );
    return { status: child.status, stdout: child.stdout, stderr: child.stderr };
  };

  it("sets a flag this node's V8 knows (an unknown one would be reported on stderr)", () => {
    expect(run(20)).toEqual({ status: 0, stdout: "set", stderr: "" });
  });

  it("sets nothing for 0", () => {
    expect(run(0)).toEqual({ status: 0, stdout: "set", stderr: "" });
  });
});
