import { describe, expect, it } from "vitest";

import {
  dayStart,
  EMPTY_SEARCH,
  eventHref,
  eventTypesOf,
  formFromParams,
  isSearchShortcut,
  searchHref,
  searchInput,
} from "./search";

const key = (over: Partial<Parameters<typeof isSearchShortcut>[0]> = {}) => ({
  key: "/",
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  target: { tagName: "BODY" },
  ...over,
});

describe("isSearchShortcut", () => {
  it("is / pressed outside a text field, without modifiers", () => {
    expect(isSearchShortcut(key())).toBe(true);
    expect(isSearchShortcut(key({ target: null }))).toBe(true);
    expect(isSearchShortcut(key({ target: { tagName: "BUTTON" } }))).toBe(true);
  });
  it("leaves typing and other keys alone", () => {
    expect(isSearchShortcut(key({ key: "?" }))).toBe(false);
    expect(isSearchShortcut(key({ ctrlKey: true }))).toBe(false);
    expect(isSearchShortcut(key({ metaKey: true }))).toBe(false);
    expect(isSearchShortcut(key({ altKey: true }))).toBe(false);
    for (const tagName of ["INPUT", "TEXTAREA", "SELECT"]) {
      expect(isSearchShortcut(key({ target: { tagName } }))).toBe(false);
    }
    expect(isSearchShortcut(key({ target: { tagName: "DIV", isContentEditable: true } }))).toBe(false);
  });
});

describe("the address of a search", () => {
  it("round-trips through the address, set fields only, trimmed", () => {
    const form = { ...EMPTY_SEARCH, q: ' "exact words" -not ', types: "PreToolUse, user", from: "2026-11-30" };
    const href = searchHref(form);
    expect(href).toBe("/search?q=%22exact+words%22+-not&types=PreToolUse%2C+user&from=2026-11-30");
    const back = formFromParams(new URLSearchParams(href.slice("/search?".length)));
    expect(back).toEqual({ ...form, q: form.q.trim() });
    expect(searchHref(EMPTY_SEARCH)).toBe("/search");
  });

  it("jumps to an event in its own session's page", () => {
    expect(eventHref({ id: "0193-abc", sessionId: "s1" })).toBe("/sessions/s1?event=0193-abc");
  });
});

describe("searchInput", () => {
  it("is null until there is text to search for", () => {
    expect(searchInput(EMPTY_SEARCH, 20)).toBeNull();
    expect(searchInput({ ...EMPTY_SEARCH, q: "   ", types: "user" }, 20)).toBeNull();
  });

  it("passes the filters that are set", () => {
    expect(searchInput({ ...EMPTY_SEARCH, q: " grep " }, 20)).toEqual({ query: "grep", limit: 20 });
    const input = searchInput(
      {
        q: "grep",
        project: "p1",
        session: "s1",
        types: "PreToolUse, ,user,PreToolUse",
        from: "2026-11-30",
        to: "2026-12-01",
      },
      20,
    );
    expect(input).toEqual({
      query: "grep",
      limit: 20,
      projectId: "p1",
      sessionId: "s1",
      eventTypes: ["PreToolUse", "user"],
      from: new Date(2026, 10, 30).toISOString(),
      // The form's last day is included: the API's `to` is exclusive, so the next day's start.
      to: new Date(2026, 11, 2).toISOString(),
    });
  });

  it("hands a date it cannot read to the server as typed, to be refused there", () => {
    expect(dayStart("yesterday")).toBe("yesterday");
    expect(searchInput({ ...EMPTY_SEARCH, q: "x", from: "30/11/2026" }, 5)?.from).toBe("30/11/2026");
  });

  it("splits event types on commas", () => {
    expect(eventTypesOf("")).toEqual([]);
    expect(eventTypesOf(" a ,b,,a ")).toEqual(["a", "b"]);
  });
});
