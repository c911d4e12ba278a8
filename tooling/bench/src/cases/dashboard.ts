/**
 * The dashboard (issue 17): the first screen's JavaScript, gzipped, as the web build measured
 * it (apps/web/dist/bundle-report.json), and the first render of the sessions list (over every
 * stored session) and of one session's long timeline, timed in Debian's Chromium from
 * navigation start to the first rows on screen (the page's own clock); then the smoothness of
 * scrolling that timeline once every page is loaded, and the sessions list with up to 10,000
 * sessions loaded: a script moves each SCROLL_STEP_PX per animation frame for SCROLL_FRAMES
 * frames and the page records the time between frames (requestAnimationFrame timestamps) and
 * whether rows are on screen in each frame.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { createLogbookClient } from "@logbook/sdk";
import { launchChromium } from "@logbook/web-e2e/browser";
import { sessionsScroll, timelineScroll } from "@logbook/web-e2e/scroll";

import { fmt, type BenchContext } from "./context.js";
import type { ResultRow } from "../report.js";
import { summarize } from "../stats.js";

const REPORT = fileURLToPath(new URL("../../../../apps/web/dist/bundle-report.json", import.meta.url));
const FIRST_RENDER_TARGET_MS = 1_000;
/** Scroll smoothness: 9 frames in 10 at 30 frames a second or better while scrolling fast. */
const FRAME_P90_TARGET_MS = 1_000 / 30;
const SCROLL_FRAMES = 600;
/** Pixels per frame: ~3 timeline rows, a fast wheel or a flick. */
const SCROLL_STEP_PX = 120;
/** Sessions loaded in the list before its scroll is measured: the "list of 10k sessions". */
const LIST_SCROLL_ROWS = 10_000;

export async function dashboardCase(ctx: BenchContext, storedSessions: number): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const report = JSON.parse(await readFile(REPORT, "utf8")) as { firstScreenJsGzipBytes: number; budgetBytes: number };
  rows.push({
    case: "dashboard-bundle",
    what: "dashboard first-screen JavaScript (gzip)",
    baseline: "",
    measured: `${fmt(report.firstScreenJsGzipBytes / 1024)} KB`,
    figure: `${fmt(report.firstScreenJsGzipBytes / 1024)} KB`,
    target: `≤ ${fmt(report.budgetBytes / 1024, 0)} KB`,
    met: report.firstScreenJsGzipBytes <= report.budgetBytes,
    details: report,
  });

  // One session with a long timeline, written through the API.
  const client = createLogbookClient({ url: ctx.server.url, apiKey: ctx.adminKey, retry: false });
  const timelineEvents = ctx.options.quick ? 2_000 : 20_000;
  const externalSessionId = `bench-dashboard-${Date.now()}`;
  for (let i = 0; i < timelineEvents; i += 1_000) {
    const batch = Array.from({ length: Math.min(1_000, timelineEvents - i) }, (_, j) => ({
      externalSessionId,
      eventType: (i + j) % 2 === 0 ? "PreToolUse" : "PostToolUse",
      toolName: "Bash",
      toolUseId: `tool-${Math.floor((i + j) / 2)}`,
      message: `step ${i + j}`,
    }));
    await client.ingest(batch);
  }
  const session = await client.sessions.get.query({ externalId: externalSessionId });

  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const link = await client.auth.createLoginLink.mutate();
    await page.goto(link.url);
    await page.waitForURL(`${ctx.server.url}/`);
    const firstRender = async (path: string, selector: string): Promise<number> => {
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) {
        await page.goto(`${ctx.server.url}${path}`);
        await page.locator(selector).first().waitFor();
        samples.push(await page.evaluate(() => performance.now()));
      }
      return Math.min(...samples);
    };
    const listMs = await firstRender("/", "[role=row][data-session-id]");
    const timelineMs = await firstRender(`/sessions/${session.id}`, "li.entry");
    ctx.log(
      `  list ${fmt(listMs, 0)} ms, timeline ${fmt(timelineMs, 0)} ms (best of 3, navigation start to first rows)`,
    );
    // Each tool call joins its result: half as many entries as events.
    const timelineScrolled = await timelineScroll(page, {
      entries: timelineEvents / 2,
      frames: SCROLL_FRAMES,
      stepPx: SCROLL_STEP_PX,
    });
    // The sessions list with up to LIST_SCROLL_ROWS of the sessions it shows loaded (it loads
    // 500 at a time as the reader nears the end): top-level ones, as the list shows by default
    // (subagents waiting for the person come on top of these, never fewer rows).
    let listed = 0;
    let cursor: string | undefined;
    do {
      const batch = await client.sessions.list.query({
        limit: 500,
        hidden: false,
        parentSessionId: null,
        ...(cursor ? { cursor } : {}),
      });
      listed += batch.items.length;
      cursor = batch.nextCursor ?? undefined;
    } while (cursor !== undefined && listed < LIST_SCROLL_ROWS);
    await page.goto(`${ctx.server.url}/`);
    await page.locator("[role=row][data-session-id]").first().waitFor();
    const listScrolled = await sessionsScroll(page, {
      sessions: Math.min(listed, LIST_SCROLL_ROWS),
      frames: SCROLL_FRAMES,
      stepPx: SCROLL_STEP_PX,
    });
    rows.push(
      {
        case: "dashboard-list",
        what: `dashboard sessions list, first render (${storedSessions} sessions stored, virtualised)`,
        baseline: "",
        measured: `${fmt(listMs, 0)} ms`,
        figure: `${fmt(listMs, 0)} ms`,
        target: `≤ ${FIRST_RENDER_TARGET_MS} ms`,
        met: listMs <= FIRST_RENDER_TARGET_MS,
      },
      {
        case: "dashboard-timeline",
        what: `dashboard timeline of ${timelineEvents} events, first render (virtualised)`,
        baseline: "",
        measured: `${fmt(timelineMs, 0)} ms`,
        figure: `${fmt(timelineMs, 0)} ms`,
        target: `≤ ${FIRST_RENDER_TARGET_MS} ms`,
        met: timelineMs <= FIRST_RENDER_TARGET_MS,
      },
    );
    rows.push(
      scrollRow(ctx, "dashboard-scroll", `timeline, ${timelineEvents} events`, "entries", timelineScrolled),
      scrollRow(ctx, "dashboard-list-scroll", "sessions list", "sessions", listScrolled),
    );
    await context.close();
  } finally {
    await browser.close();
  }
  return rows;
}

/** A scroll measurement as a result row (and a log line): time between frames, rows in each. */
function scrollRow(
  ctx: BenchContext,
  name: string,
  list: string,
  unit: string,
  scroll: Awaited<ReturnType<typeof timelineScroll>>,
): ResultRow {
  const frames = summarize(scroll.intervals);
  const slow = scroll.intervals.filter((t) => t > 50).length;
  const perFrame = (ms: number) => fmt(ms / Math.max(1, frames.count), 2);
  const work = `main thread ${perFrame(scroll.work.taskMs)} ms a frame (script ${perFrame(scroll.work.scriptMs)}, layout ${perFrame(scroll.work.layoutMs)}, style ${perFrame(scroll.work.styleMs)}; ${scroll.work.layouts} layouts)`;
  ctx.log(
    `  scroll of ${list}, ${scroll.rows} ${unit}: frame p50 ${fmt(frames.p50)} ms, p90 ${fmt(frames.p90)} ms, p99 ${fmt(frames.p99)} ms, max ${fmt(frames.max)} ms; ${slow} of ${frames.count} frames over 50 ms; rows on screen in ${scroll.framesWithRows} frames; ${work}`,
  );
  return {
    case: name,
    what: `dashboard ${list} scroll, ${scroll.rows} ${unit} loaded, ${frames.count} frames of ${SCROLL_STEP_PX} px: time between frames`,
    baseline: "",
    measured: `p50 ${fmt(frames.p50)} ms, p99 ${fmt(frames.p99)} ms, max ${fmt(frames.max)} ms; ${slow} frames > 50 ms; rows shown in ${scroll.framesWithRows}/${frames.count}; ${work}`,
    figure: `p90 ${fmt(frames.p90)} ms`,
    target: `p90 ≤ ${fmt(FRAME_P90_TARGET_MS)} ms, rows in every frame`,
    met: frames.p90 <= FRAME_P90_TARGET_MS && scroll.framesWithRows === frames.count,
    details: {
      ...frames,
      slowFrames: slow,
      framesWithRows: scroll.framesWithRows,
      scrolledPx: scroll.scrolledPx,
      work: scroll.work,
    },
  };
}
