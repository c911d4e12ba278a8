import { describe, expect, it } from "vitest";

import { changedOnWayIn } from "./changed-on-way-in.js";

describe("changedOnWayIn", () => {
  it("says nothing when nothing was changed, and each count with its own plural", () => {
    expect(changedOnWayIn({ redactions: 0, replacedCharacters: 0 })).toBeNull();
    expect(changedOnWayIn({ redactions: 1, replacedCharacters: 0 })).toBe("1 secret redacted");
    expect(changedOnWayIn({ redactions: 0, replacedCharacters: 1 })).toBe("1 character stored as U+FFFD");
    expect(changedOnWayIn({ redactions: 2, replacedCharacters: 1_500 })).toBe(
      "2 secrets redacted · 1,500 characters stored as U+FFFD",
    );
  });
});
