import { describe, expect, it } from "vitest";

import { distinctShortLabels, middleEllipsis, projectNames, shortPathNames } from "./names";

describe("shortPathNames", () => {
  it("the last folder, or as many of the last folders as tell paths apart", () => {
    const names = shortPathNames(["/home/me/client-a/app", "/home/me/client-b/app", "/home/me/logbook", "/a/app"]);
    expect(Object.fromEntries(names)).toEqual({
      "/home/me/client-a/app": "client-a/app",
      "/home/me/client-b/app": "client-b/app",
      "/home/me/logbook": "logbook",
      "/a/app": "a/app",
    });
  });

  it("the whole path when one is the end of another; Windows paths keep their separator", () => {
    const names = shortPathNames(["/a/app", "/b/a/app", "C:\\work\\x\\app", "C:\\work\\y\\app"]);
    expect(names.get("/a/app")).toBe("/a/app");
    expect(names.get("/b/a/app")).toBe("b/a/app");
    expect(names.get("C:\\work\\x\\app")).toBe("x\\app");
  });
});

describe("projectNames", () => {
  it("a name shared by two projects gets the distinctive end of each path", () => {
    const names = projectNames([
      { id: "1", path: "/home/me/client-a/app", name: "app" },
      { id: "2", path: "/home/me/client-b/app", name: null },
      { id: "3", path: "/srv/web", name: "shop" },
      { id: "4", path: "/srv/old/web", name: "shop" },
      { id: "5", path: "/home/me/logbook", name: "logbook" },
    ]);
    expect(Object.fromEntries(names)).toEqual({
      "1": "client-a/app",
      "2": "client-b/app",
      "3": "shop (srv/web)",
      "4": "shop (old/web)",
      "5": "logbook",
    });
  });
});

describe("middleEllipsis and distinctShortLabels", () => {
  it("keeps the start and the end, and leaves a label that fits as it is", () => {
    expect(middleEllipsis("claude-sonnet-4-5-20250929", 20)).toBe("claude-…4-5-20250929");
    expect(middleEllipsis("claude-opus-4", 18)).toBe("claude-opus-4");
  });

  it("no two different labels read the same", () => {
    const labels = ["prefix-aaaaaaaa-middle-one-end", "prefix-aaaaaaaa-middle-two-end", "short"];
    const shown = distinctShortLabels(labels, 12);
    expect(new Set(shown).size).toBe(3);
    expect(shown[2]).toBe("short");
    expect(shown.every((s, i) => s.length <= (labels[i] ?? "").length)).toBe(true);
  });
});
