import { describe, expect, it } from "vitest";

import { cleanText, sanitizeJsonForPostgres, unstorableCharacters } from "./json.js";

describe("characters PostgreSQL cannot hold", () => {
  const hostile = {
    "k\u0000": ["a\u0000b", { deep: "\ud800x\udc00" }],
    pair: "\ud83d\ude00", // a surrogate pair (an emoji) is a whole character: kept
    n: 1,
    none: null,
  };

  it("counts exactly the characters sanitizing replaces, in keys and values at any depth", () => {
    expect(unstorableCharacters(hostile)).toBe(4);
    const cleaned = sanitizeJsonForPostgres(hostile);
    expect(cleaned).toEqual({
      "k\uFFFD": ["a\uFFFDb", { deep: "\uFFFDx\uFFFD" }],
      pair: "\ud83d\ude00",
      n: 1,
      none: null,
    });
    expect(unstorableCharacters(cleaned)).toBe(0);
  });

  it("counts a string or a scalar on its own, and changes nothing that is clean", () => {
    expect(unstorableCharacters("\u0000\u0000")).toBe(2);
    expect(cleanText("\u0000\u0000")).toBe("\uFFFD\uFFFD");
    expect(unstorableCharacters(42)).toBe(0);
    expect(unstorableCharacters(undefined)).toBe(0);
    const clean = { a: ["b", { c: "d" }] };
    expect(unstorableCharacters(clean)).toBe(0);
    expect(sanitizeJsonForPostgres(clean)).toBe(clean);
  });
});
