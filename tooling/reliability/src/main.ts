/**
 * `pnpm reliability [--quick] [--only faults,hostile,…]`: the reliability and security
 * suite of issue 7 against the built server and emitter, on embedded PostgreSQL clusters
 * it owns. Prints every figure and writes results/<iso-time>.json. Exit code 1 when any
 * check fails (a lost event or a 5xx is a bug, not a figure).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { parseArgs } from "node:util";

import {
  authChecks,
  concurrencyChecks,
  crashChecks,
  dbLimitChecks,
  faultChecks,
  hostileChecks,
  loadChecks,
  printChecks,
  privacyChecks,
  shutdownChecks,
  type Check,
} from "./checks.js";
import { startCluster, type Cluster } from "./lib/cluster.js";
import { startServer } from "./lib/server.js";
import { runAuth } from "./suites/auth.js";
import { runConcurrency } from "./suites/concurrency.js";
import { runDbLimits } from "./suites/db-limits.js";
import { apiHardeningChecks, runApiHardening } from "./suites/api-hardening.js";
import { emitterHostileChecks, runEmitterHostile } from "./suites/emitter-hostile.js";
import { runCrash, runPrivacy } from "./suites/embedded.js";
import { runFaults, runGracefulShutdown } from "./suites/faults.js";
import { hostileScenario } from "./suites/hostile-run.js";
import { runLoad } from "./suites/load.js";

const SUITES = [
  "faults",
  "shutdown",
  "hostile",
  "auth",
  "load",
  "concurrency",
  "db-limits",
  "emitter-hostile",
  "api-hardening",
  "privacy",
  "pg-crash",
] as const;
type Suite = (typeof SUITES)[number];

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    seed: { type: "string" },
    "load-seconds": { type: "string" },
    "fault-events": { type: "string" },
    help: { type: "boolean", default: false },
  },
  allowPositionals: true,
});
if (values.help) {
  console.log(
    `pnpm reliability [--quick] [--only ${SUITES.join(",")}] [--seed N] [--load-seconds S] [--fault-events N]`,
  );
  process.exit(0);
}
const quick = values.quick === true;
const only = new Set((values.only?.split(",") ?? SUITES) as Suite[]);
const seed = values.seed ? Number(values.seed) : Date.now() % 1_000_000;
const faultEvents = values["fault-events"] ? Number(values["fault-events"]) : quick ? 3_200 : 100_000;
const loadSeconds = values["load-seconds"] ? Number(values["load-seconds"]) : quick ? 20 : 300;
const sizes = {
  faults: { lanes: 8, eventsPerLane: Math.ceil(faultEvents / 8), binaryEvery: quick ? 10 : 25 },
  shutdown: { clients: 4, batchSize: 20, loadMs: quick ? 6_000 : 20_000 },
  hostile: { runsPerProcedure: quick ? 10 : 100, hookRuns: quick ? 200 : 2_000, seed },
  load: { durationMs: loadSeconds * 1000 },
  concurrency: quick
    ? { lockClients: 12, lockRounds: 5, jobs: 60, workers: 4, kills: 2, stalls: 1, deadlineMs: 90_000 }
    : { lockClients: 24, lockRounds: 20, jobs: 400, workers: 8, kills: 6, stalls: 2, deadlineMs: 300_000 },
  dbLimits: { holdMs: quick ? 4_000 : 10_000, requests: 1_000 },
  emitterHostile: { hooks: quick ? 10 : 100, idleMs: quick ? 3_000 : 20_000 },
  apiHardening: { wrongKeys: 2_000, bigBodyRuns: quick ? [20] : [20, 100] },
  pgCrash: { kills: quick ? 2 : 5, writers: 4 },
};

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "?",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  loadBefore: loadavg().map((l) => Math.round(l * 100) / 100),
};
log(
  `reliability ${quick ? "--quick" : "(full)"}: ${[...only].join(", ")}; seed ${seed}; load average ${machine.loadBefore.join(" ")}`,
);

const results: Record<string, unknown> = {};
const checks: Check[] = [];
const started = Date.now();

async function withCluster<T>(name: string, run: (cluster: Cluster) => Promise<T>): Promise<T> {
  const cluster = await startCluster({ name });
  try {
    return await run(cluster);
  } finally {
    await cluster.close();
  }
}

async function suite(name: Suite, run: () => Promise<Check[]>): Promise<void> {
  if (!only.has(name)) return;
  const t = Date.now();
  log(`${name}: start`);
  try {
    const found = await run();
    checks.push(...found);
    log(`${name}: ${found.every((c) => c.ok) ? "ok" : "FAILED"} in ${Math.round((Date.now() - t) / 1000)} s`);
  } catch (error) {
    checks.push({
      suite: name,
      what: "suite ran",
      figure: error instanceof Error ? error.message.slice(0, 200) : String(error),
      ok: false,
    });
    results[name] = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    log(`${name}: ERROR ${error instanceof Error ? error.message : String(error)}`);
  }
}

await suite("faults", () =>
  withCluster("faults", async (cluster) => {
    // Both delivery modes of the emitter, one after the other (each run marks its own events).
    const found: Check[] = [];
    const reports: Record<string, unknown> = {};
    for (const delivery of ["background", "direct"] as const) {
      const report = await runFaults(cluster, { ...sizes.faults, delivery, log });
      reports[delivery] = report;
      found.push(...faultChecks(report));
    }
    results.faults = reports;
    return found;
  }),
);
await suite("shutdown", () =>
  withCluster("shutdown", async (cluster) => {
    const report = await runGracefulShutdown(cluster, { ...sizes.shutdown, log });
    results.shutdown = report;
    return shutdownChecks(report);
  }),
);
await suite("hostile", () =>
  withCluster("hostile", async (cluster) => {
    const report = await hostileScenario(cluster, { ...sizes.hostile, log });
    results.hostile = report;
    return hostileChecks(report);
  }),
);
await suite("auth", () =>
  withCluster("auth", async (cluster) => {
    const server = await startServer(cluster.url);
    try {
      const report = await runAuth({ server, knex: cluster.knex, log });
      results.auth = report;
      return authChecks(report);
    } finally {
      await server.stop();
    }
  }),
);
await suite("load", () =>
  withCluster("load", async (cluster) => {
    const report = await runLoad(cluster, { ...sizes.load, log });
    results.load = report;
    return loadChecks(report);
  }),
);
await suite("concurrency", () =>
  withCluster("concurrency", async (cluster) => {
    const report = await runConcurrency(cluster, { ...sizes.concurrency, log });
    results.concurrency = report;
    return concurrencyChecks(report);
  }),
);
await suite("db-limits", () =>
  withCluster("db-limits", async (cluster) => {
    const report = await runDbLimits(cluster, { ...sizes.dbLimits, log });
    results.dbLimits = report;
    return dbLimitChecks(report);
  }),
);
await suite("emitter-hostile", () =>
  withCluster("emitter-hostile", async (cluster) => {
    const report = await runEmitterHostile(cluster, { ...sizes.emitterHostile, log });
    results.emitterHostile = report;
    return emitterHostileChecks(report);
  }),
);
await suite("api-hardening", () =>
  withCluster("api-hardening", async (cluster) => {
    const report = await runApiHardening(cluster, { ...sizes.apiHardening, log });
    results.apiHardening = report;
    return apiHardeningChecks(report);
  }),
);

// These two run the server on its own embedded PostgreSQL (no cluster of the suite's).
await suite("privacy", async () => {
  const report = await runPrivacy({ log });
  results.privacy = report;
  return privacyChecks(report);
});
await suite("pg-crash", async () => {
  const report = await runCrash({ ...sizes.pgCrash, log });
  results.pgCrash = report;
  return crashChecks(report);
});

console.log("");
printChecks(checks);
const failed = checks.filter((c) => !c.ok);
const file = new URL(`../results/${new Date().toISOString().replace(/:/g, "-")}.json`, import.meta.url);
await mkdir(new URL("../results/", import.meta.url), { recursive: true });
await writeFile(
  file,
  JSON.stringify(
    {
      command: `pnpm reliability${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(" ")}` : ""}`,
      quick,
      seed,
      sizes,
      machine: { ...machine, loadAfter: loadavg().map((l) => Math.round(l * 100) / 100) },
      durationS: Math.round((Date.now() - started) / 1000),
      checks,
      results,
    },
    null,
    2,
  ),
);
log(
  `${checks.length - failed.length}/${checks.length} checks ok in ${Math.round((Date.now() - started) / 1000)} s; report: ${file.pathname}`,
);
process.exit(failed.length === 0 ? 0 : 1);
