import { describe, expect, it } from "vitest";

import { findInexactNumber } from "./exact-numbers.js";

describe("findInexactNumber", () => {
  it.each([
    ['{"a":1e400}', ["a"], "1e400"],
    ['{"a":-1e400}', ["a"], "-1e400"],
    ['{"a":1e-400}', ["a"], "1e-400"],
    [
      '{"events":[{"n":1},{"p":{"u":{"t":12345678901234567890}}}]}',
      ["events", 1, "p", "u", "t"],
      "12345678901234567890",
    ],
    ["[0, 0.12345678901234567890]", [1], "0.12345678901234567890"],
    ['{"k\\"ey":[[1],[2, 9007199254740993]]}', ['k"ey', 1, 1], "9007199254740993"],
    ['{"a":[1.5e3,-0.25E+2,7],"b":{"c":[{"d":1.0e400}]}}', ["b", "c", 0, "d"], "1.0e400"],
  ])("finds the number in %s", (text, path, number) => {
    expect(findInexactNumber(text)).toEqual({ path, number });
  });

  it.each([
    '{"a":1,"b":-2.5,"c":0.1,"d":1.50,"e":1e21,"f":1E-7,"g":9007199254740992}',
    '{"s":"1e400 inside a string, 12345678901234567890, \\"quoted\\" 1e999","t":[1,2,3]}',
    '{"x":0,"y":-0,"z":100000000000000000000}',
    "[]",
    '{"a":[1.5e3,-0.25E+2,7,123456789012345],"b":{"c":-1e-7}}',
  ])("passes %s", (text) => {
    expect(findInexactNumber(text)).toBeNull();
  });
});
