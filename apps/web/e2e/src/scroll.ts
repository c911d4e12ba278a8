// The function below runs in the page; the bench compiles this file too, without DOM types.
/// <reference lib="dom" />
/**
 * Scroll smoothness of a session's timeline, in the page (the bench's `dashboard` case): the
 * time between animation frames while a script scrolls the virtualised list, and whether a
 * row is painted mid-list in each frame. A measurement, never a test's assertion.
 */
import type { Page } from "playwright-core";

interface ScrollMeasure {
  entries: number;
  /** Milliseconds between consecutive animation frames while scrolling. */
  intervals: number[];
  /** Frames in which the middle of the list showed a row (not the blank of one not drawn yet). */
  framesWithRows: number;
  scrolledPx: number;
}

/**
 * On an open session page: loads every page of the timeline (a running session opens at its
 * tail and follows it, so its pages come one after another; the wait also scrolls to the end
 * to ask for them) until `entries` are there, goes back to the top, then moves the list
 * `stepPx` per animation frame for `frames` frames (fewer if the end comes first).
 */
export async function timelineScroll(
  page: Page,
  options: { entries: number; frames: number; stepPx: number },
): Promise<ScrollMeasure> {
  await page.waitForFunction(
    (n) => {
      const list = document.querySelector<HTMLElement>("[data-testid=timeline]");
      if (list) list.scrollTop = list.scrollHeight;
      return Number(document.querySelector<HTMLElement>("[data-entries]")?.dataset.entries) >= n;
    },
    options.entries,
    { polling: 100, timeout: 300_000 },
  );
  const measured = await page.evaluate(async ({ frames, stepPx }) => {
    const list = document.querySelector<HTMLElement>("[data-testid=timeline]");
    if (!list) throw new Error("no timeline on the page");
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
      if (i > 0 && hit?.closest("li.entry")) framesWithRows += 1;
      list.scrollTop += stepPx;
    }
    return { times, framesWithRows, scrolledPx: list.scrollTop };
  }, options);
  const intervals = measured.times.slice(1).map((t, i) => t - (measured.times[i] ?? t));
  return {
    entries: options.entries,
    intervals,
    framesWithRows: measured.framesWithRows,
    scrolledPx: measured.scrolledPx,
  };
}
