import type { RetentionReport } from "@logbook/contracts";
import { createLogbookClient } from "@logbook/sdk";

import { startLoad } from "../load/run-load.js";
import type { LoadRequest } from "../load/protocol.js";
import type { ResultRow } from "../report.js";
import { summarize, type Summary } from "../stats.js";
import { fmt, ms, type BenchContext } from "./context.js";

/** Ingest rate kept up while the purge runs (hook posts, as agents keep working). */
// 50/s: on the loaded 2-core machine of the recorded run the server sustained ~100 hook posts/s,
// so 200/s (the first runs) measured a growing queue, not the purge's effect on ingest.
const INGEST_RATE = 50;

interface PurgeUnderIngest {
  report: RetentionReport;
  purgeSeconds: number;
  base: Summary;
  during: Summary;
  ratio: number;
}

/**
 * Hook ingest at a fixed rate without a purge (the baseline), then again while `purge`
 * runs through the API (stopped as soon as it returns): the latencies of both.
 */
async function purgeUnderIngest(
  ctx: BenchContext,
  seed: number,
  policy: { sessionMaxAgeDays: number; eventMaxAgeDays?: number },
): Promise<PurgeUnderIngest> {
  const load = (seed: number, durationSec: number): LoadRequest => ({
    url: ctx.server.url,
    headers: { authorization: `Bearer ${ctx.server.apiKey}` },
    rate: INGEST_RATE,
    connections: 16,
    durationSec,
    scenario: { kind: "hooks", sessions: 50, payloadBytes: 1000, seed },
  });
  const baseline = await startLoad({ ...load(seed, ctx.options.durationSec), warmupSec: ctx.options.warmupSec }).result;
  if (baseline.failed > 0)
    throw new Error(`baseline ingest: ${baseline.failed} failed; first: ${baseline.firstFailure}`);
  const base = summarize(baseline.latenciesMs);

  const admin = createLogbookClient({ url: ctx.server.url, apiKey: ctx.adminKey, retry: false });
  // Long enough for any purge; stopped as soon as the purge returns.
  const during = startLoad(load(seed + 1, 600));
  ctx.rss.start("purge");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const started = performance.now();
  let report;
  try {
    report = await admin.retention.run.mutate({ dryRun: false, policy });
  } finally {
    during.stop();
  }
  const purgeSeconds = (performance.now() - started) / 1000;
  const result = await during.result;
  ctx.rss.stop();
  if (result.failed > 0) throw new Error(`ingest during purge: ${result.failed} failed; first: ${result.firstFailure}`);
  const s = summarize(result.latenciesMs);
  return { report, purgeSeconds, base, during: s, ratio: s.p99 / base.p99 };
}

/**
 * Case 7: the retention purge of the old, finished session trees (holding `purgeEvents`
 * events) through the API, while hook ingest goes on at a fixed rate. Baseline: the same
 * ingest just before, without a purge. Targets: purge ≤ 10 s, ingest p99 ≤ 2× baseline.
 * Row deletes: the session tree policy cannot be expressed by time partitions.
 */
export async function purgeCase(ctx: BenchContext, oldEvents: number): Promise<ResultRow> {
  const { report, purgeSeconds, base, during: s, ratio } = await purgeUnderIngest(ctx, 701, { sessionMaxAgeDays: 365 });
  ctx.log(
    `  purged ${report.events} events / ${report.sessions} sessions in ${fmt(purgeSeconds, 2)} s (${report.batches} batches); ` +
      `ingest p99 ${ms(base.p99)} before, ${ms(s.p99)} during`,
  );
  if (report.events < oldEvents)
    throw new Error(`the purge removed ${report.events} events, expected at least ${oldEvents}`);
  return {
    case: "purge",
    what: `retention purge of ${(report.events / 1e6).toFixed(2)}M events while ingest runs (${INGEST_RATE}/s)`,
    baseline: `ingest p99 ${ms(base.p99)} without purge`,
    measured: `purge ${fmt(purgeSeconds, 2)} s; ingest p99 ${ms(s.p99)}`,
    figure: `${fmt(ratio, 2)}× p99`,
    target: "purge ≤ 10 s, ingest p99 ≤ 2×",
    met: purgeSeconds <= 10 && ratio <= 2,
    details: { purgeSeconds, report, ingestBaseline: base, ingestDuringPurge: s, ratio, ingestRate: INGEST_RATE },
  };
}

/**
 * Issue 19's case: retention by event age retires the weekly time partitions holding
 * `partitionEvents` old events (detach and drop, no row deletes), while hook ingest goes
 * on at the same rate as case 7. Baseline: the same ingest just before. Target: ingest p99
 * ≤ 1.5× baseline. The session policy is set out of reach, so only partitions go.
 */
export async function partitionPurgeCase(
  ctx: BenchContext,
  partitionEvents: number,
  eventMaxAgeDays: number,
): Promise<ResultRow> {
  const { report, purgeSeconds, base, during, ratio } = await purgeUnderIngest(ctx, 711, {
    sessionMaxAgeDays: 36_500,
    eventMaxAgeDays,
  });
  ctx.log(
    `  retired ${report.events} events in ${report.batches} partitions/batches in ${fmt(purgeSeconds, 2)} s; ` +
      `ingest p99 ${ms(base.p99)} before, ${ms(during.p99)} during`,
  );
  if (report.events < partitionEvents)
    throw new Error(`the purge removed ${report.events} events, expected at least ${partitionEvents}`);
  return {
    case: "purge-partitions",
    what: `retention by partition of ${(report.events / 1e6).toFixed(2)}M events while ingest runs (${INGEST_RATE}/s)`,
    baseline: `ingest p99 ${ms(base.p99)} without purge`,
    measured: `purge ${fmt(purgeSeconds, 2)} s; ingest p99 ${ms(during.p99)}`,
    figure: `${fmt(ratio, 2)}× p99`,
    target: "ingest p99 ≤ 1.5×",
    met: ratio <= 1.5,
    details: { purgeSeconds, report, ingestBaseline: base, ingestDuringPurge: during, ratio, ingestRate: INGEST_RATE },
  };
}
