import { describe, expect, it } from "vitest";

import { AppError } from "../errors.js";
import { canonicalProjectPath } from "./project-path.js";

describe("canonicalProjectPath", () => {
  it.each([
    ["/home/me/app", "/home/me/app"],
    ["  /home/me/app  ", "/home/me/app"],
    ["/home/me/app/", "/home/me/app"],
    ["/home//me///app//", "/home/me/app"],
    ["/home/./me/./app/.", "/home/me/app"],
    ["/home/me/tmp/../app", "/home/me/app"],
    ["/..", "/"],
    ["/", "/"],
    ["//", "/"],
    ["/a\\b", "/a\\b"],
    ["C:\\work\\app\\", "C:\\work\\app"],
    ["C:\\work\\\\app", "C:\\work\\app"],
    ["C:\\work\\.\\app\\sub\\..", "C:\\work\\app"],
    ["C:/work/app/", "C:/work/app"],
    ["C:\\", "C:\\"],
    ["d:\\\\", "d:\\"],
    ["\\\\server\\share\\app\\", "\\\\server\\share\\app"],
    ["\\\\server\\share\\..\\..", "\\\\server\\share"],
  ])("%j is stored as %j", (input, expected) => {
    expect(canonicalProjectPath(input)).toBe(expected);
  });

  it.each(["app", "./app", "../app", "~/app", "C:app", "C:", "   "])(
    "refuses %j with a clear INVALID_INPUT",
    (input) => {
      let caught: unknown;
      try {
        canonicalProjectPath(input);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(AppError);
      expect((caught as AppError).code).toBe("INVALID_INPUT");
      expect((caught as AppError).message).toMatch(/relative|empty/);
    },
  );

  it("refuses an incomplete UNC path", () => {
    expect(() => canonicalProjectPath("\\\\server")).toThrow(/UNC/);
  });
});
