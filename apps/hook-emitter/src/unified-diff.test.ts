import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { tempDir } from "../test/helpers.js";
import { unifiedDiff } from "./unified-diff.js";

describe("unifiedDiff", () => {
  const cases: Array<[string, string, string]> = [
    ["insert in the middle", "a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nX\ne\nf\ng\nh\n"],
    ["append at the end", "{\n  \"a\": 1\n}\n", "{\n  \"a\": 1,\n  \"hooks\": {}\n}\n"],
    ["new file", "", "{\n}\n"],
    ["two distant hunks", Array.from({ length: 30 }, (_, n) => `l${n}`).join("\n") + "\n", Array.from({ length: 30 }, (_, n) => (n === 2 || n === 25 ? `changed${n}` : `l${n}`)).join("\n") + "\n"],
  ];

  it.each(cases)("%s: the patch applies with patch(1) and gives the new text", (_label, before, after) => {
    const dir = tempDir("diff");
    const file = join(dir, "f.json");
    writeFileSync(file, before);
    const patch = unifiedDiff(file, before, after);
    execFileSync("patch", ["-s", "-p0", file], { input: patch, cwd: dir });
    expect(execFileSync("cat", [file]).toString()).toBe(after);
  });

  it("no change, no hunk", () => {
    expect(unifiedDiff("f", "a\n", "a\n")).toBe("--- f\n+++ f\n");
  });
});
