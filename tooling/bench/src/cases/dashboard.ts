/**
 * The dashboard (issue 17): the first screen's JavaScript, gzipped, as the web build measured
 * it (apps/web/dist/bundle-report.json), and the first render of the sessions list (over every
 * stored session) and of one session's long timeline, timed in Debian's Chromium from
 * navigation start to the first rows on screen (the page's own clock).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { createLogbookClient } from "@logbook/sdk";
import { launchChromium } from "@logbook/web-e2e/browser";

import { fmt, type BenchContext } from "./context.js";
import type { ResultRow } from "../report.js";

const REPORT = fileURLToPath(new URL("../../../../apps/web/dist/bundle-report.json", import.meta.url));
const FIRST_RENDER_TARGET_MS = 1_000;

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
    await context.close();
  } finally {
    await browser.close();
  }
  return rows;
}
