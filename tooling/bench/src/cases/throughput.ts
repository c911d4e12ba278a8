import { startFloor, type FloorServer } from "../floor/start-floor.js";
import { connect } from "../generate.js";
import type { LoadResult } from "../load/protocol.js";
import { runLoad } from "../load/run-load.js";
import type { ResultRow } from "../report.js";
import { summarize, type Summary } from "../stats.js";
import { fmt, ms, type BenchContext } from "./context.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

/** Connection counts of issue 15 (one agent; ten; fifty agents on one server). */
export const THROUGHPUT_CONNECTIONS = [1, 10, 50] as const;
/** Hook payloads like the issue's: ~1.3 KB, 64 sessions. */
const SCENARIO = { kind: "hooks", sessions: 64, payloadBytes: 1300 } as const;
/** Issue 15's targets for `POST /hooks/claude-code`, durable. */
const TARGETS: Record<
  number,
  { minRate: number; minNoFsyncRatio?: number; maxP99?: number; maxP50AboveFsync?: number }
> = {
  1: { minRate: 1400, maxP50AboveFsync: 1 },
  10: { minRate: 7500, minNoFsyncRatio: 1 },
  50: { minRate: 8500, minNoFsyncRatio: 1, maxP99: 20 },
};

interface Measured {
  rate: number;
  latency: Summary;
}

/**
 * What one durable commit costs on this disk, from a client: p50 of a one-row autocommit
 * INSERT with `synchronous_commit` on minus the same with it off (the WAL flush, ~fdatasync).
 */
async function fsyncCostMs(url: string): Promise<number> {
  const client = await connect(url);
  try {
    // A real table: a temporary one's rows are not WAL-logged.
    await client.query("CREATE TABLE IF NOT EXISTS bench_fsync_probe (n int)");
    const time = async (mode: "on" | "off") => {
      await client.query(`SET synchronous_commit = ${mode}`);
      const samples: number[] = [];
      for (let i = 0; i < 300; i++) {
        const t = performance.now();
        await client.query("INSERT INTO bench_fsync_probe VALUES ($1)", [i]);
        samples.push(performance.now() - t);
      }
      return summarize(samples).p50;
    };
    const on = await time("on");
    const off = await time("off");
    return Math.max(0, on - off);
  } finally {
    await client.end();
  }
}

async function closedLoad(ctx: BenchContext, url: string, connections: number, seed: number): Promise<Measured> {
  const result: LoadResult = await runLoad({
    url,
    headers: { authorization: `Bearer ${ctx.server.apiKey}` },
    rate: "closed",
    connections,
    durationSec: ctx.options.quick ? 1 : Math.min(ctx.options.durationSec, 10),
    warmupSec: ctx.options.warmupSec,
    scenario: { ...SCENARIO, seed },
  });
  if (result.failed > 0) throw new Error(`${url}: ${result.failed} failed; first: ${result.firstFailure}`);
  return { rate: result.achievedRate, latency: summarize(result.latenciesMs) };
}

const line = (m: Measured) => `${Math.round(m.rate)} ev/s (p50 ${ms(m.latency.p50)}, p99 ${ms(m.latency.p99)})`;

/**
 * Issue 15: single hook posts as fast as `connections` senders get answers (closed loop),
 * against two baselines measured in the same run, interleaved per connection count: the
 * floor (bare node:http + pg, one durable INSERT per post) and the no-fsync floor (the same
 * with synchronous_commit=off, the shape of a store that does not fsync). One row per
 * connection count.
 */
export async function throughputCase(ctx: BenchContext): Promise<ResultRow[]> {
  const fsyncMs = await fsyncCostMs(ctx.db.url);
  ctx.log(`  one durable commit costs ~${ms(fsyncMs)} more than a non-durable one (p50)`);
  const floors: Array<[string, FloorServer]> = [];
  try {
    const base = { databaseUrl: ctx.db.url, poolMax: 20 };
    floors.push(["floor", await startFloor({ ...base, synchronousCommit: "on", table: "bench_floor_events" })]);
    floors.push([
      "no-fsync floor",
      await startFloor({ ...base, synchronousCommit: "off", table: "bench_floor_nofsync_events" }),
    ]);
    const rows: ResultRow[] = [];
    for (const connections of THROUGHPUT_CONNECTIONS) {
      const seed = 400 + connections;
      const [floor, noFsync] = [
        await closedLoad(ctx, expectDefined(floors[0])[1].url, connections, seed),
        await closedLoad(ctx, expectDefined(floors[1])[1].url, connections, seed),
      ];
      ctx.rss.start(`throughput-${connections}`);
      const logbook = await closedLoad(ctx, `${ctx.server.url}`, connections, seed);
      ctx.rss.stop();
      ctx.log(`  ${connections} conn: Logbook ${line(logbook)}; floor ${line(floor)}; no-fsync floor ${line(noFsync)}`);
      const target = expectDefined(TARGETS[connections]);
      const floorRatio = logbook.rate / floor.rate;
      const noFsyncRatio = logbook.rate / noFsync.rate;
      const p50AboveFsync = logbook.latency.p50 - fsyncMs;
      const checks: Array<[string, boolean]> = [[`≥ ${target.minRate} ev/s`, logbook.rate >= target.minRate]];
      if (target.minNoFsyncRatio !== undefined)
        checks.push([`≥ ${target.minNoFsyncRatio}× no-fsync floor`, noFsyncRatio >= target.minNoFsyncRatio]);
      if (target.maxP99 !== undefined) checks.push([`p99 ≤ ${target.maxP99} ms`, logbook.latency.p99 <= target.maxP99]);
      if (target.maxP50AboveFsync !== undefined)
        checks.push([`p50 ≤ fsync + ${target.maxP50AboveFsync} ms`, p50AboveFsync <= target.maxP50AboveFsync]);
      rows.push({
        case: "throughput",
        what: `POST /hooks/claude-code, ${connections} connection${connections === 1 ? "" : "s"}, closed loop`,
        baseline: `floor ${Math.round(floor.rate)}, no-fsync floor ${Math.round(noFsync.rate)} ev/s`,
        measured: line(logbook),
        figure: `${fmt(floorRatio, 2)}× floor, ${fmt(noFsyncRatio, 2)}× no-fsync`,
        target: checks.map(([t]) => t).join(", "),
        met: checks.every(([, ok]) => ok),
        details: { connections, fsyncMs, logbook, floor, noFsync, floorRatio, noFsyncRatio, p50AboveFsync },
      });
    }
    return rows;
  } finally {
    await Promise.all(floors.map(([, f]) => f.stop()));
  }
}
