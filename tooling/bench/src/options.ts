import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

export interface BenchOptions {
  quick: boolean;
  /** Events (and sessions) stored for the timeline and session-list cases. */
  events: number;
  sessions: number;
  /** Events in old, finished sessions that the retention case purges. */
  purgeEvents: number;
  /** Events sent through the SDK (and COPY) in the ingest case. */
  ingestEvents: number;
  clients: number;
  hookRuns: number;
  /** Seconds of each fixed-rate load. */
  durationSec: number;
  warmupSec: number;
  hookRate: number;
  keep: boolean;
  /**
   * Where the embedded PostgreSQL keeps the data set between runs (dataset.ts); null: a
   * temporary directory, removed at the end (the default of --quick).
   */
  cacheDir: string | null;
  rebuildDataset: boolean;
  only: Set<string> | null;
  databaseUrl: string | undefined;
}

export const CASES = [
  "ingest",
  "hooks-ingest",
  "hook-up",
  "hook-down",
  "hook-http",
  "throughput",
  "trivial-query",
  "health",
  "timeline",
  "timeline-summary",
  "session-list",
  "purge",
  "purge-partitions",
  "dashboard",
  "search",
  "search-ingest",
  "memory",
] as const;

export const USAGE = `pnpm bench [--quick] [--events N] [--sessions N] [--purge-events N] [--ingest-events N]
           [--clients N] [--hook-runs N] [--duration S] [--hook-rate N] [--only case,case] [--keep]
           [--cache-dir DIR | --no-cache] [--rebuild-dataset]
cases: ${CASES.join(", ")}
DATABASE_URL set: use that server (a fresh database is created and dropped; the data set's database is kept);
else embedded PostgreSQL in --cache-dir (default $LOGBOOK_BENCH_CACHE or ~/.cache/logbook-bench; with --quick
or --no-cache a temporary directory).`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== "--"),
    options: {
      quick: { type: "boolean", default: false },
      events: { type: "string" },
      sessions: { type: "string" },
      "purge-events": { type: "string" },
      "ingest-events": { type: "string" },
      clients: { type: "string" },
      "hook-runs": { type: "string" },
      duration: { type: "string" },
      "hook-rate": { type: "string" },
      only: { type: "string" },
      keep: { type: "boolean", default: false },
      "cache-dir": { type: "string" },
      "no-cache": { type: "boolean", default: false },
      "rebuild-dataset": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick;
  const int = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value.replace(/_/g, ""));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number (got ${value})`);
    return n;
  };
  const events = int("events", values.events, quick ? 20_000 : 10_000_000);
  const only = values.only ? new Set(values.only.split(",").map((s) => s.trim())) : null;
  for (const name of only ?? []) {
    if (!(CASES as readonly string[]).includes(name))
      throw new Error(`unknown case ${name}; cases: ${CASES.join(", ")}`);
  }
  return {
    quick,
    events,
    // 100 events per session on average, as in the 10M / 100k.
    sessions: int("sessions", values.sessions, Math.max(50, Math.round(events / 100))),
    purgeEvents: int("purge-events", values["purge-events"], quick ? 10_000 : 1_000_000),
    ingestEvents: int("ingest-events", values["ingest-events"], quick ? 6_000 : 100_000),
    clients: int("clients", values.clients, 4),
    hookRuns: int("hook-runs", values["hook-runs"], quick ? 6 : 40),
    durationSec: int("duration", values.duration, quick ? 3 : 20),
    warmupSec: quick ? 1 : 3,
    hookRate: int("hook-rate", values["hook-rate"], 500),
    keep: values.keep,
    cacheDir:
      values["no-cache"] || (quick && values["cache-dir"] === undefined)
        ? null
        : resolve(
            values["cache-dir"] ?? (process.env.LOGBOOK_BENCH_CACHE || join(homedir(), ".cache", "logbook-bench")),
          ),
    rebuildDataset: values["rebuild-dataset"],
    only,
    databaseUrl: process.env.DATABASE_URL && process.env.DATABASE_URL !== "" ? process.env.DATABASE_URL : undefined,
  };
}
