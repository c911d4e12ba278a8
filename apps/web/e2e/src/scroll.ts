// The functions below run in the page; the bench compiles this file too, without DOM types.
/// <reference lib="dom" />
/**
 * Scroll smoothness of the dashboard's long lists, in the page (the bench's `dashboard` case):
 * the time between animation frames while a script scrolls a virtualised list, and whether a
 * row is painted mid-list in each frame. A measurement, never a test's assertion.
 */
import type { Page } from "playwright-core";

interface ScrollMeasure {
  rows: number;
  /** Milliseconds between consecutive animation frames while scrolling. */
  intervals: number[];
  /** Frames in which the middle of the list showed a row (not the blank of one not drawn yet). */
  framesWithRows: number;
  scrolledPx: number;
  /**
   * The page's main-thread work during the scroll (Chromium's Performance.getMetrics, summed
   * over the frames): what the page itself costs per frame, which a loaded machine stretches
   * but does not add to, unlike the time between frames.
   */
  work: { taskMs: number; scriptMs: number; layoutMs: number; styleMs: number; layouts: number; styleRecalcs: number };
}

interface ScrollOptions {
  frames: number;
  stepPx: number;
}

/**
 * On an open session page: loads every page of the timeline (a running session opens at its
 * tail and follows it, so its pages come one after another; the wait also scrolls to the end
 * to ask for them) until `entries` are there, then measures its scroll from the top.
 */
export async function timelineScroll(page: Page, options: ScrollOptions & { entries: number }): Promise<ScrollMeasure> {
  await page.waitForFunction(
    (n) => {
      const list = document.querySelector<HTMLElement>("[data-testid=timeline]");
      if (list) list.scrollTop = list.scrollHeight;
      return Number(document.querySelector<HTMLElement>("[data-entries]")?.dataset.entries) >= n;
    },
    options.entries,
    { polling: 100, timeout: 300_000 },
  );
  return measureScroll(page, { ...options, rows: options.entries, list: "[data-testid=timeline]", row: "li.entry" });
}

/**
 * On the sessions list: scrolls to the end until `sessions` rows are loaded (a page of them
 * is fetched as the reader nears the end), then measures its scroll from the top.
 */
export async function sessionsScroll(
  page: Page,
  options: ScrollOptions & { sessions: number },
): Promise<ScrollMeasure> {
  await page.waitForFunction(
    (n) => {
      const list = document.querySelector<HTMLElement>("[data-testid=sessions-scroller]");
      if (list) list.scrollTop = list.scrollHeight;
      // aria-rowcount counts the header row too.
      return Number(document.querySelector("[role=table][aria-label=Sessions]")?.getAttribute("aria-rowcount")) > n;
    },
    options.sessions,
    { polling: 100, timeout: 300_000 },
  );
  return measureScroll(page, {
    ...options,
    rows: options.sessions,
    list: "[data-testid=sessions-scroller]",
    row: "[role=row][data-session-id]",
  });
}

/**
 * From the top, moves the list `stepPx` per animation frame for `frames` frames (fewer if the
 * end comes first), noting each frame's time and whether the point in the list's middle is on
 * a row.
 */
async function measureScroll(
  page: Page,
  options: ScrollOptions & { rows: number; list: string; row: string },
): Promise<ScrollMeasure> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const metrics = async () =>
    new Map((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value] as const));
  const before = await metrics();
  const measured = await page.evaluate(async ({ frames, stepPx, list: listSelector, row }) => {
    const list = document.querySelector<HTMLElement>(listSelector);
    if (!list) throw new Error(`no ${listSelector} on the page`);
    list.scrollTop = 0;
    const box = list.getBoundingClientRect();
    // No named functions in here: tsx (the bench runs under it) wraps them in a helper the
    // page does not have.
    await new Promise<number>((resolve) => requestAnimationFrame(resolve));
    const times: number[] = [];
    let framesWithRows = 0;
    // Never past the end: frames there would scroll nothing.
    const steps = Math.min(frames, Math.floor((list.scrollHeight - list.clientHeight) / stepPx));
    for (let i = 0; i <= steps; i++) {
      times.push(await new Promise<number>((resolve) => requestAnimationFrame(resolve)));
      const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      if (i > 0 && hit?.closest(row)) framesWithRows += 1;
      list.scrollTop += stepPx;
    }
    return { times, framesWithRows, scrolledPx: list.scrollTop };
  }, options);
  const after = await metrics();
  await cdp.detach();
  const spent = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const intervals = measured.times.slice(1).map((t, i) => t - (measured.times[i] ?? t));
  return {
    rows: options.rows,
    intervals,
    framesWithRows: measured.framesWithRows,
    scrolledPx: measured.scrolledPx,
    work: {
      // Durations are in seconds.
      taskMs: spent("TaskDuration") * 1000,
      scriptMs: spent("ScriptDuration") * 1000,
      layoutMs: spent("LayoutDuration") * 1000,
      styleMs: spent("RecalcStyleDuration") * 1000,
      layouts: spent("LayoutCount"),
      styleRecalcs: spent("RecalcStyleCount"),
    },
  };
}
