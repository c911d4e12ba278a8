import { applyPatch } from "diff";
import { describe, expect, it } from "vitest";

import { unifiedDiff } from "./unified-diff.js";

describe("unifiedDiff", () => {
  const cases: Array<[string, string, string]> = [
    ["insert in the middle", "a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nX\ne\nf\ng\nh\n"],
    ["append at the end", '{\n  "a": 1\n}\n', '{\n  "a": 1,\n  "hooks": {}\n}\n'],
    ["new file", "", "{\n}\n"],
    [
      "two distant hunks",
      Array.from({ length: 30 }, (_, n) => `l${n}`).join("\n") + "\n",
      Array.from({ length: 30 }, (_, n) => (n === 2 || n === 25 ? `changed${n}` : `l${n}`)).join("\n") + "\n",
    ],
  ];

  // An independent implementation (jsdiff, a test-only dependency) applies our patch.
  it.each(cases)("%s: the patch applies with jsdiff and gives the new text", (_label, before, after) => {
    const patch = unifiedDiff("settings.json", before, after);
    expect(applyPatch(before, patch)).toBe(after);
  });

  it("no change, no hunk", () => {
    expect(unifiedDiff("f", "a\n", "a\n")).toBe("--- f\n+++ f\n");
  });
});
