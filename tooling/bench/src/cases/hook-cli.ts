import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { findFreePort } from "@logbook/db";

import { hookShape, rng } from "../payloads.js";
import type { ResultRow } from "../report.js";
import { summarize, type Summary } from "../stats.js";
import { fmt, ms, type BenchContext } from "./context.js";

/** The built emitter, as Claude Code runs it (`node dist/logbook-hook.cjs`). */
export const HOOK_BIN = fileURLToPath(new URL("../dist/logbook-hook.cjs", import.meta.resolve("@logbook/hook-emitter")));

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

/**
 * Cases 2 and 3: one hook event through `logbook-hook` vs a bare `node -e 0`, runs
 * interleaved (baseline, hook, baseline, hook…) so drift in machine load hits both alike.
 */
export async function hookCliCase(ctx: BenchContext, mode: "up" | "down"): Promise<ResultRow> {
  if (!existsSync(HOOK_BIN)) throw new Error(`${HOOK_BIN} is missing: build the emitter (pnpm --filter @logbook/hook-emitter build)`);
  const home = await mkdtemp(join(tmpdir(), `logbook-bench-hook-${mode}-`));
  const random = rng(mode === "up" ? 201 : 202);
  const sessionId = `bench-hook-${mode}-${Date.now()}`;
  const payload = JSON.stringify({ session_id: sessionId, ...hookShape(random, "PreToolUse", "/work/bench-hook", 1000).body });
  const url = mode === "up" ? ctx.server.url : `http://127.0.0.1:${await findFreePort()}`;
  // Only what Claude Code's hook environment would carry for us: PATH, HOME and our settings.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOGBOOK_HOME: home,
    LOGBOOK_URL: url,
    LOGBOOK_API_KEY: ctx.server.apiKey,
    LOGBOOK_NO_BACKGROUND_FLUSH: "1",
  };
  const target = mode === "up" ? 1.3 : 1.1;
  try {
    const warmups = 3;
    const base: number[] = [];
    const hook: number[] = [];
    for (let i = 0; i < warmups + ctx.options.hookRuns; i++) {
      const b = await timedRun(["-e", "0"], payload, env);
      const h = await timedRun([HOOK_BIN], payload, env);
      if (i >= warmups) {
        base.push(b);
        hook.push(h);
      }
    }
    const sb: Summary = summarize(base);
    const sh: Summary = summarize(hook);
    const ratio = sh.p50 / sb.p50;
    const stored =
      mode === "up"
        ? Number(
            ((await ctx.db.knex.raw<{ rows: Array<{ n: string }> }>(
              "SELECT count(*) AS n FROM events e JOIN sessions s ON s.id = e.session_id WHERE s.external_id = ?",
              [sessionId],
            )).rows[0]?.n) ?? 0,
          )
        : 0;
    const spool = spooled(home);
    const runs = warmups + ctx.options.hookRuns;
    if (mode === "up" && stored !== runs) throw new Error(`server up: ${stored} of ${runs} hook events stored (${spool} spooled): the emitter did not reach the server`);
    if (mode === "down" && spool !== runs) throw new Error(`server down: ${spool} of ${runs} hook events spooled`);
    ctx.log(`  node -e 0 p50 ${ms(sb.p50)} p90 ${ms(sb.p90)} | logbook-hook p50 ${ms(sh.p50)} p90 ${ms(sh.p90)} (${mode === "up" ? `${stored} stored` : `${spool} spooled`})`);
    return {
      case: `hook-${mode}`,
      what: `one hook event via logbook-hook, server ${mode}${mode === "down" ? " (spool)" : ""}`,
      baseline: `node -e 0 p50 ${ms(sb.p50)}, p90 ${ms(sb.p90)}`,
      measured: `p50 ${ms(sh.p50)}, p90 ${ms(sh.p90)}`,
      figure: `${fmt(ratio, 2)}× (p50), ${fmt(sh.p90 / sb.p90, 2)}× (p90)`,
      target: `≤ ${target}×`,
      met: ratio <= target,
      details: { runs: ctx.options.hookRuns, baseline: sb, hook: sh, ratioP50: ratio, ratioP90: sh.p90 / sb.p90, stored, spooled: spool },
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
