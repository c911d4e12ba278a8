import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { findFreePort } from "@logbook/db";
import { stopDeliverer } from "@logbook/hook-emitter";

import { hookShape, rng } from "../payloads.js";
import type { ResultRow } from "../report.js";
import { summarize, type Summary } from "../stats.js";
import { fmt, ms, type BenchContext } from "./context.js";

/** The built emitter, as Claude Code runs it (`node dist/logbook-hook.cjs`). */
export const HOOK_BIN = fileURLToPath(
  new URL("../dist/logbook-hook.cjs", import.meta.resolve("@logbook/hook-emitter")),
);

/** Wall time of one process from spawn to exit, stdin written and closed. */
function timedRun(args: string[], stdin: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ["pipe", "ignore", "ignore"] });
    child.once("error", reject);
    child.once("exit", (code) => {
      const elapsed = performance.now() - started;
      if (code !== 0) reject(new Error(`${args.join(" ")} exited with ${code}`));
      else resolve(elapsed);
    });
    child.stdin.on("error", () => undefined); // `node -e 0` may exit before reading stdin
    child.stdin.end(stdin);
  });
}

function spooled(home: string): number {
  const dir = join(home, "spool");
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).filter((f) => f.endsWith(".json")).length;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

interface Delivery {
  stored: number;
  /** Capture (the hook's clock when it read stdin) to stored (the server's transaction time), ms. */
  lag: Summary;
}

/** Waits (up to 60 s) for the events of `sessionId` to be stored, then reads how long each took to get there. */
async function awaitDelivery(ctx: BenchContext, sessionId: string, expected: number): Promise<Delivery> {
  const read = async () =>
    (
      await ctx.db.knex.raw<{ rows: Array<{ lag_ms: number }> }>(
        `SELECT extract(epoch FROM e.received_at - e.occurred_at) * 1000 AS lag_ms
           FROM events e JOIN sessions s ON s.id = e.session_id WHERE s.external_id = ?`,
        [sessionId],
      )
    ).rows.map((row) => Number(row.lag_ms));
  let lags = await read();
  for (const until = Date.now() + 60_000; lags.length < expected && Date.now() < until; lags = await read())
    await sleep(100);
  return { stored: lags.length, lag: summarize(lags) };
}

/**
 * Cases 2 and 3: one hook event through `logbook-hook` vs a bare `node -e 0`, runs
 * interleaved (baseline, hook, baseline, hook…) so drift in machine load hits both alike.
 *
 * The hook runs as installed: background delivery (it spools, and the resident deliverer it
 * starts sends). Server up, the runs also take turns with the direct mode
 * (`LOGBOOK_HOOK_DELIVERY=direct`: the hook posts and waits for the answer), for comparison,
 * and the case waits for every event to be stored and reports capture → stored times.
 */
export async function hookCliCase(ctx: BenchContext, mode: "up" | "down"): Promise<ResultRow> {
  if (!existsSync(HOOK_BIN))
    throw new Error(`${HOOK_BIN} is missing: build the emitter (pnpm --filter @logbook/hook-emitter build)`);
  const home = await mkdtemp(join(tmpdir(), `logbook-bench-hook-${mode}-`));
  const directHome = await mkdtemp(join(tmpdir(), `logbook-bench-hook-${mode}-direct-`));
  const random = rng(mode === "up" ? 201 : 202);
  const sessionId = `bench-hook-${mode}-${Date.now()}`;
  const directSessionId = `${sessionId}-direct`;
  const body = hookShape(random, "PreToolUse", "/work/bench-hook", 1000).body;
  const payload = JSON.stringify({ session_id: sessionId, ...body });
  const directPayload = JSON.stringify({ session_id: directSessionId, ...body });
  const url = mode === "up" ? ctx.server.url : `http://127.0.0.1:${await findFreePort()}`;
  // Only what Claude Code's hook environment would carry for us: PATH, HOME and our settings.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOGBOOK_HOME: home,
    LOGBOOK_URL: url,
    LOGBOOK_API_KEY: ctx.server.apiKey,
  };
  const directEnv: NodeJS.ProcessEnv = {
    ...env,
    LOGBOOK_HOME: directHome,
    LOGBOOK_HOOK_DELIVERY: "direct",
    LOGBOOK_NO_BACKGROUND_FLUSH: "1",
  };
  const target = mode === "up" ? 1.3 : 1.1;
  try {
    const warmups = 3;
    const runs = warmups + ctx.options.hookRuns;
    const base: number[] = [];
    const hook: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < runs; i++) {
      const b = await timedRun(["-e", "0"], payload, env);
      const h = await timedRun([HOOK_BIN], payload, env);
      const d = mode === "up" ? await timedRun([HOOK_BIN], directPayload, directEnv) : NaN;
      if (i >= warmups) {
        base.push(b);
        hook.push(h);
        if (mode === "up") direct.push(d);
      }
    }
    const sb: Summary = summarize(base);
    const sh: Summary = summarize(hook);
    const sd: Summary = summarize(direct);
    const ratio = sh.p50 / sb.p50;
    const details: Record<string, unknown> = {
      runs: ctx.options.hookRuns,
      baseline: sb,
      hook: sh,
      ratioP50: ratio,
      ratioP90: sh.p90 / sb.p90,
    };
    let measured = `p50 ${ms(sh.p50)}, p90 ${ms(sh.p90)}`;
    if (mode === "up") {
      const delivered = await awaitDelivery(ctx, sessionId, runs);
      const directStored = await awaitDelivery(ctx, directSessionId, runs);
      if (delivered.stored !== runs)
        throw new Error(
          `server up: ${delivered.stored} of ${runs} hook events stored (${spooled(home)} spooled): the deliverer did not send them`,
        );
      if (directStored.stored !== runs)
        throw new Error(
          `server up, direct: ${directStored.stored} of ${runs} hook events stored (${spooled(directHome)} spooled)`,
        );
      Object.assign(details, { delivered, direct: sd, directRatioP50: sd.p50 / sb.p50, directDelivered: directStored });
      measured += `; stored ${ms(delivered.lag.p50)} p50 / ${ms(delivered.lag.p90)} p90 after capture; direct mode ${fmt(sd.p50 / sb.p50, 2)}× (p50)`;
      ctx.log(
        `  node -e 0 p50 ${ms(sb.p50)} p90 ${ms(sb.p90)} | logbook-hook p50 ${ms(sh.p50)} p90 ${ms(sh.p90)}, capture → stored p50 ${ms(delivered.lag.p50)} p90 ${ms(delivered.lag.p90)} max ${ms(delivered.lag.max)}` +
          ` | direct mode p50 ${ms(sd.p50)} p90 ${ms(sd.p90)}, capture → stored p50 ${ms(directStored.lag.p50)}`,
      );
    } else {
      const spool = spooled(home);
      if (spool !== runs) throw new Error(`server down: ${spool} of ${runs} hook events spooled`);
      details.spooled = spool;
      ctx.log(
        `  node -e 0 p50 ${ms(sb.p50)} p90 ${ms(sb.p90)} | logbook-hook p50 ${ms(sh.p50)} p90 ${ms(sh.p90)} (${spool} spooled)`,
      );
    }
    return {
      case: `hook-${mode}`,
      what: `one hook event via logbook-hook, server ${mode}${mode === "down" ? " (spool)" : ""}`,
      baseline: `node -e 0 p50 ${ms(sb.p50)}, p90 ${ms(sb.p90)}`,
      measured,
      figure: `${fmt(ratio, 3)}× (p50), ${fmt(sh.p90 / sb.p90, 3)}× (p90)`,
      target: `≤ ${target}×`,
      met: ratio <= target,
      details,
    };
  } finally {
    // The deliverer the case's hooks started would otherwise idle on for two minutes.
    stopDeliverer(join(home, "spool"));
    await rm(home, { recursive: true, force: true });
    await rm(directHome, { recursive: true, force: true });
  }
}
