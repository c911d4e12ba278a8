import { describe, expect, it } from "vitest";

import { statusFromSeedWord } from "./session-status.js";

describe("statusFromSeedWord", () => {
  it("maps the seeds' words, in any case", () => {
    expect(statusFromSeedWord(" IN_PROGRESS ")).toBe("active");
    expect(statusFromSeedWord("error")).toBe("failed");
  });

  it("knows nothing of Object.prototype's names", () => {
    for (const word of ["constructor", "__proto__", "toString", "hasOwnProperty"])
      expect(statusFromSeedWord(word), word).toBeUndefined();
  });
});
