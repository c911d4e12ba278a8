import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

import type { Cluster } from "../lib/cluster.js";
import { startServer } from "../lib/server.js";
import { percentile, round, rssMiB, sleep } from "../lib/stats.js";

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
  rss: {
    samples: Array<{ s: number; mib: number }>;
    /** Medians of the first, second and last quarter of the run; growth is second → last (the first quarter is warm-up). */
    firstQuarterMiB: number;
    secondQuarterMiB: number;
    lastQuarterMiB: number;
    maxMiB: number;
    growthPercent: number;
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
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const first = percentile(
      samples.slice(0, quarter).map((s) => s.mib),
      50,
    );
    const second = percentile(
      samples.slice(quarter, 2 * quarter).map((s) => s.mib),
      50,
    );
    const last = percentile(
      samples.slice(-quarter).map((s) => s.mib),
      50,
    );
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
        firstQuarterMiB: round(first),
        secondQuarterMiB: round(second),
        lastQuarterMiB: round(last),
        maxMiB: round(Math.max(...samples.map((s) => s.mib))),
        growthPercent: round(((last - second) / second) * 100),
      },
    };
  } finally {
    await server.stop();
  }
}
