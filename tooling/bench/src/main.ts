/**
 * `pnpm bench [--quick] [...]`: Logbook's benchmark suite (issue 6). One run starts its
 * own PostgreSQL (or uses DATABASE_URL) with a fresh database, the built server, and
 * runs every case with a baseline measured in the same run; prints a table and writes
 * `bench-results/<iso-time>.json`. A missed target is reported, not a failure: the exit
 * code is non-zero only when the harness itself breaks.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { startTestServer, type TestServer } from "@logbook/server/testing";

import type { BenchContext } from "./cases/context.js";
import { hookHttpCase, sessionListCase, timelineCase } from "./cases/http.js";
import { dashboardCase } from "./cases/dashboard.js";
import { hookCliCase } from "./cases/hook-cli.js";
import { hooksIngestCase, ingestCase } from "./cases/ingest.js";
import { partitionPurgeCase, purgeCase } from "./cases/purge.js";
import { healthCase, trivialQueryCase } from "./cases/reads.js";
import { searchIngestCase, searchLatencyCase } from "./cases/search.js";
import { throughputCase } from "./cases/throughput.js";
import { openBenchDatabase, type BenchDatabase } from "./database.js";
import { ensurePartitionData, openDataset, type OpenedDataset } from "./dataset.js";
import { RssSampler, rssMb } from "./memory.js";
import { parseOptions } from "./options.js";
import { machineInfo, printTable, writeReport, type ResultRow } from "./report.js";

/** The event age the partition purge case's retention run keeps (its data is 200 days old). */
const PARTITION_PURGE_AFTER_DAYS = 185;
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
// Issue 15: under the throughput loads too.
const RSS_TARGET_MB = 150;

const log = (line: string) => console.log(line);
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

function uptime(): string {
  try {
    return execFileSync("uptime", { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const wanted = (name: string) => options.only === null || options.only.has(name);
  const started = performance.now();
  const machineBefore = machineInfo();
  const loadBefore = uptime();
  log(`logbook bench ${options.quick ? "(quick)" : ""} — ${loadBefore}`);

  const rows: ResultRow[] = [];
  const errors: Array<{ case: string; error: string }> = [];
  const extra: Record<string, unknown> = {};
  let db: BenchDatabase | undefined;
  let server: TestServer | undefined;
  let dataset: OpenedDataset | undefined;
  let datasetServer: TestServer | undefined;
  try {
    db = await openBenchDatabase({
      databaseUrl: options.databaseUrl,
      clusterDir: options.cacheDir,
      keep: options.keep,
      log,
    });
    log(`PostgreSQL ${db.serverVersion} (${db.origin}); database migrated`);
    server = await startTestServer({
      databaseUrl: db.url,
      env: {
        LOG_LEVEL: "warn",
        RETENTION_INTERVAL_MS: "0",
        JOB_RECOVERY_INTERVAL_MS: "0",
        // For profiling the server under a case, e.g. "--import ./my-profiler.mjs" (see README).
        ...(process.env.BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } : {}),
      },
    });
    const srv = server;
    const adminKey = await srv.createKey(["admin", "read", "ingest"], "bench-admin");
    // The server doing a case's work: the run's own, then the data set's (purge, dashboard).
    let sampled: TestServer = srv;
    const rss = new RssSampler(() => sampled.pid);
    const idleRss = srv.pid ? await rssMb(srv.pid) : null;
    log(`server ${srv.url} (pid ${srv.pid}, RSS ${idleRss?.toFixed(0)} MB idle)`);
    const ctx: BenchContext = { options, db, server: srv, adminKey, rss, log };

    const run = async (name: string, body: () => Promise<ResultRow | ResultRow[]>) => {
      if (!wanted(name)) return;
      const t = performance.now();
      log(`\n== ${name}`);
      try {
        rows.push(...[await body()].flat());
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`  FAILED: ${message}`);
        errors.push({ case: name, error: message });
        rows.push({ case: name, what: name, baseline: "", measured: "error", figure: "", target: "", met: null });
      }
      log(`  (${seconds(t)})`);
    };

    await run("ingest", () => ingestCase(ctx));
    await run("hooks-ingest", () => hooksIngestCase(ctx));
    await run("hook-up", () => hookCliCase(ctx, "up"));
    await run("hook-down", () => hookCliCase(ctx, "down"));
    await run("hook-http", () => hookHttpCase(ctx));
    await run("throughput", () => throughputCase(ctx));
    await run("search-ingest", () => searchIngestCase(ctx));
    await run("trivial-query", () => trivialQueryCase(ctx));
    await run("health", () => healthCase(ctx));

    if (
      wanted("timeline") ||
      wanted("timeline-summary") ||
      wanted("session-list") ||
      wanted("purge") ||
      wanted("purge-partitions") ||
      wanted("dashboard") ||
      wanted("search")
    ) {
      log("\n== dataset");
      const t = performance.now();
      const ds = await openDataset(
        db,
        { events: options.events, sessions: options.sessions, purgeEvents: options.purgeEvents },
        { rebuild: options.rebuildDataset, wantOld: wanted("purge"), log },
      );
      dataset = ds;
      extra.dataset = {
        database: ds.name,
        reused: ds.reused,
        builtAt: ds.builtAt,
        events: ds.stored,
        sessions: ds.data.sessions.length,
        oldEvents: ds.oldEvents,
        gigabytes: ds.bytes / 1e9,
        seconds: ds.seconds,
      };
      log(
        `  ${ds.name}: ${ds.stored} events, ${(ds.bytes / 1e9).toFixed(1)} GB, ${ds.reused ? "reused" : "built"} (${seconds(t)})`,
      );
      // The read cases run against a server of their own on the data set's database.
      const dsServer = await startTestServer({
        databaseUrl: ds.url,
        env: { LOG_LEVEL: "warn", RETENTION_INTERVAL_MS: "0", JOB_RECOVERY_INTERVAL_MS: "0" },
      });
      datasetServer = dsServer;
      sampled = dsServer;
      const dsDb: BenchDatabase = { ...db, url: ds.url, knex: ds.knex };
      const dsCtx: BenchContext = {
        ...ctx,
        db: dsDb,
        server: dsServer,
        adminKey: await dsServer.createKey(["admin", "read", "ingest"], "bench-admin"),
      };
      await run("timeline", () => timelineCase(dsCtx, ds.data, ds.stored));
      await run("timeline-summary", () => timelineCase(dsCtx, ds.data, ds.stored, "summary"));
      await run("session-list", () => sessionListCase(dsCtx, ds.data, ds.stored));
      await run("search", () => searchLatencyCase(dsCtx, ds.data, ds.stored));
      await run("purge", () => purgeCase(dsCtx, ds.oldEvents));
      await run("purge-partitions", async () => {
        const partitionEvents = await ensurePartitionData(ds, options.purgeEvents, log);
        return partitionPurgeCase(dsCtx, partitionEvents, PARTITION_PURGE_AFTER_DAYS);
      });
      await run("dashboard", () => dashboardCase(dsCtx, ds.data.sessions.length));
    }

    if (wanted("memory")) {
      const peaks = Object.entries(rss.peaks);
      const peak = Math.max(...peaks.map(([, mb]) => mb));
      if (peaks.length === 0) {
        rows.push({
          case: "memory",
          what: "server RSS under sustained ingest",
          baseline: "",
          measured: "no ingest case ran",
          figure: "",
          target: "",
          met: null,
        });
      } else {
        rows.push({
          case: "memory",
          what: `server RSS under sustained ingest (${peaks.map(([p]) => p).join(", ")})`,
          baseline: `idle ${idleRss?.toFixed(0) ?? "?"} MB`,
          measured: peaks.map(([p, mb]) => `${p} ${mb.toFixed(0)}`).join(", ") + " MB",
          figure: `peak ${peak.toFixed(0)} MB`,
          target: `≤ ${RSS_TARGET_MB} MB`,
          met: peak <= RSS_TARGET_MB,
          details: { idleMb: idleRss, peaksMb: rss.peaks },
        });
      }
    }
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`harness failed: ${message}`);
    errors.push({ case: "harness", error: message });
  } finally {
    await datasetServer?.stop().catch((e: unknown) => log(`stopping the data set's server: ${String(e)}`));
    await dataset?.knex.destroy().catch((e: unknown) => log(`closing the data set: ${String(e)}`));
    await server?.stop().catch((e: unknown) => log(`stopping the server: ${String(e)}`));
    await db?.close().catch((e: unknown) => log(`closing the database: ${String(e)}`));
  }

  log("");
  printTable(rows);
  const loadAfter = uptime();
  const file = await writeReport(ROOT, {
    command: `pnpm bench ${process.argv
      .slice(2)
      .filter((a) => a !== "--")
      .join(" ")}`.trim(),
    startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
    durationSec: (performance.now() - started) / 1000,
    options: {
      ...options,
      only: options.only ? [...options.only] : null,
      databaseUrl: options.databaseUrl ? "(set)" : null,
    },
    machine: machineBefore,
    uptimeBefore: loadBefore,
    uptimeAfter: loadAfter,
    postgres: db ? { version: db.serverVersion, origin: db.origin } : null,
    ...extra,
    results: rows,
    errors,
  });
  log(`\nload: before "${loadBefore}", after "${loadAfter}"`);
  log(`report: ${file} (${seconds(started)})`);
  return errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
