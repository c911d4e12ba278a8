import { describe, expect, it } from "vitest";

import { cellWidth, cutToWidth, fitTable } from "./fit.js";

describe("cellWidth and cutToWidth", () => {
  it("count what the terminal shows: two columns for CJK and emoji, none for colour codes", () => {
    expect(cellWidth("日本語")).toBe(6);
    expect(cellWidth("👍 ok")).toBe(5);
    expect(cellWidth("\u001b[33mwarn\u001b[39m")).toBe(4);
    expect(cellWidth("short\na longer line")).toBe(13);
  });

  it("cut to a width with an ellipsis, never through a wide character, each line of a cell", () => {
    expect(cutToWidth("日本語のタイトル", 7)).toBe("日本語…");
    // A cut in the middle of a wide character leaves one column blank rather than go over.
    expect(cutToWidth("日本語のタイトル", 8)).toBe("日本語…");
    expect(cutToWidth("日本語のタイトル", 6)).toBe("日本…");
    expect(cutToWidth("👍👍👍👍", 5)).toBe("👍👍…");
    expect(cutToWidth("a fairly long title\nid-1234", 8)).toBe("a fairl…\nid-1234");
    expect(cutToWidth("fits", 4)).toBe("fits");
    expect(cutToWidth("/home/dev/projects/shop", 10, "start")).toBe("…ects/shop");
    const coloured = cutToWidth("\u001b[33ma yellow sentence\u001b[39m", 6);
    expect(cellWidth(coloured)).toBe(6);
    expect(coloured.endsWith("\u001b[39m")).toBe(true); // the colour is closed, not left on
  });
});

describe("fitTable", () => {
  // STATUS, ID, TITLE, COUNT: only the title may be cut; the count may be left out.
  const natural = [7, 36, 40, 6];
  const request = { natural, bordered: true, shrink: new Map([[2, 12]]), drop: [3] };

  it("leaves a table that fits, or one with no width (a pipe), as it is", () => {
    expect(fitTable({ ...request, available: undefined }).widths).toEqual(natural);
    expect(fitTable({ ...request, available: 200 })).toEqual({
      columns: [0, 1, 2, 3],
      widths: natural,
      bordered: true,
      dropped: [],
    });
  });

  it("cuts the free-text column, never the others, down to the width available", () => {
    // Borders take 2 per column and 5 bars: 7+36+6 + 13 = 62, 18 left for the title.
    expect(fitTable({ ...request, available: 80 })).toMatchObject({ widths: [7, 36, 18, 6], bordered: true });
  });

  it("then drops the borders, then the columns it may leave out, until the table fits", () => {
    // Bordered, the title would go below 12; plain (two spaces between) it keeps 15.
    expect(fitTable({ ...request, available: 70 })).toMatchObject({ widths: [7, 36, 15, 6], bordered: false });
    expect(fitTable({ ...request, available: 62 })).toEqual({
      columns: [0, 1, 2],
      widths: [7, 36, 15],
      bordered: false,
      dropped: [3],
    });
  });

  it("keeps the borders when asked (cells of several lines), and drops columns instead", () => {
    expect(fitTable({ ...request, available: 70, keepBorders: true })).toMatchObject({
      widths: [7, 36, 17],
      bordered: true,
      dropped: [3],
    });
  });

  it("gives the narrowest it can when nothing fits", () => {
    expect(fitTable({ ...request, available: 20 })).toMatchObject({ widths: [7, 36, 12], dropped: [3] });
  });
});
