import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

import type { Cluster } from "../lib/cluster.js";
import { startServer } from "../lib/server.js";
import { round, rssMiB, sleep } from "../lib/stats.js";

const PACKAGE_DIR = fileURLToPath(new URL("../../", import.meta.url));
const WORKER = fileURLToPath(new URL("../workers/load.ts", import.meta.url));

interface OpStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LoadReport {
  durationS: number;
  lanes: { ingest: number; hooks: number; queries: number; subscribers: number; pauseMs: number };
  requests: number;
  errors: number;
  errorRate: number;
  errorSamples: string[];
  throughputPerS: number;
  all: OpStats;
  ops: Record<string, OpStats>;
  subscriptions: { subscribers: number; expectedDeliveries: number; missing: number; streamErrors: number };
  rss: RssTrend & { samples: Array<{ s: number; mib: number }>; maxMiB: number };
}

export interface RssTrend {
  /** The lowest RSS of the run's middle and last thirds (MiB); the first third is warm-up. */
  middleLowMiB: number;
  lastLowMiB: number;
  /** How far the low rose from the middle third to the last (%). */
  lowGrowthPercent: number;
  /** Whether the run is long enough to judge: the heap needs a few collections to show its lows. */
  judged: boolean;
}

/** Runs shorter than this show the heap filling for the first time, not a trend (`--quick` runs 20 s). */
export const RSS_TREND_MIN_MS = 120_000;

/**
 * Whether the server's memory grows under steady load. Its RSS is a sawtooth: the heap fills
 * with garbage and each major collection brings it back down (docs/reliability.md: teeth of
 * 60-90 s between ~160 and ~250 MiB). Medians or last values depend on where the teeth fall;
 * the lows do not, and a leak raises them: the check compares the lowest sample of the last
 * third with that of the middle third.
 */
export function rssTrend(samplesMiB: number[], durationMs: number): RssTrend {
  if (samplesMiB.length < 3) return { middleLowMiB: 0, lastLowMiB: 0, lowGrowthPercent: 0, judged: false };
  const third = Math.max(1, Math.floor(samplesMiB.length / 3));
  const middleLow = Math.min(...samplesMiB.slice(third, 2 * third));
  const lastLow = Math.min(...samplesMiB.slice(-third));
  return {
    middleLowMiB: round(middleLow),
    lastLowMiB: round(lastLow),
    lowGrowthPercent: round(((lastLow - middleLow) / middleLow) * 100),
    judged: durationMs >= RSS_TREND_MIN_MS,
  };
}

/** Sustained mixed load from a separate process; the server's RSS is sampled from /proc meanwhile. */
export async function runLoad(
  cluster: Cluster,
  options: { durationMs: number; log?: (line: string) => void },
): Promise<LoadReport> {
  const server = await startServer(cluster.url, { JOB_RECOVERY_INTERVAL_MS: "0" });
  const lanes = { ingest: 3, hooks: 1, queries: 2, subscribers: 4, pauseMs: 10 };
  const samples: Array<{ s: number; mib: number }> = [];
  try {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        WORKER,
        JSON.stringify({
          url: server.url,
          apiKey: server.apiKey,
          durationMs: options.durationMs,
          ingestLanes: lanes.ingest,
          queryLanes: lanes.queries,
          hookLanes: lanes.hooks,
          subscribers: lanes.subscribers,
          pauseMs: lanes.pauseMs,
        }),
      ],
      { cwd: PACKAGE_DIR, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    let running = true;
    void exited.then(() => (running = false));
    const every = Math.max(1_000, Math.round(options.durationMs / 60));
    while (running) {
      const mib = rssMiB(server.pid);
      if (mib !== null) samples.push({ s: round((performance.now() - started) / 1000), mib: round(mib) });
      await Promise.race([sleep(every), exited]);
    }
    const code = await exited;
    const line = out.split("\n").find((l) => l.startsWith("R "));
    if (code !== 0 || !line) throw new Error(`load generator exited ${code}: ${out.slice(-500)}`);
    const result = JSON.parse(line.slice(2)) as {
      ops: Record<string, OpStats>;
      all: OpStats;
      errors: Record<string, number>;
      errorSamples: string[];
      subscriptions: LoadReport["subscriptions"];
    };
    const errors = Object.values(result.errors).reduce((a, b) => a + b, 0);
    const requests = result.all.count + errors;
    return {
      durationS: round(options.durationMs / 1000),
      lanes,
      requests,
      errors,
      errorRate: requests === 0 ? 0 : errors / requests,
      errorSamples: result.errorSamples,
      throughputPerS: round(requests / (options.durationMs / 1000)),
      all: result.all,
      ops: result.ops,
      subscriptions: result.subscriptions,
      rss: {
        samples,
        maxMiB: round(Math.max(...samples.map((sample) => sample.mib))),
        ...rssTrend(
          samples.map((sample) => sample.mib),
          options.durationMs,
        ),
      },
    };
  } finally {
    await server.stop();
  }
}
