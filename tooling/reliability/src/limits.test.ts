/** Database limits and concurrency invariants, small. */
import { afterAll, beforeAll, expect, it } from "vitest";

import { concurrencyChecks, dbLimitChecks } from "./checks.js";
import { startCluster, type Cluster } from "./lib/cluster.js";
import { failedChecks } from "./lib/expect-checks.js";
import { runConcurrency } from "./suites/concurrency.js";
import { runDbLimits } from "./suites/db-limits.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ name: "limits-test" });
});
afterAll(() => cluster?.close());

it("answers a clear 503 (never a 500, never a hang) when the pool is exhausted and the database is slow, and recovers alone", async () => {
  const report = await runDbLimits(cluster, { holdMs: 3_000, requests: 300 });
  expect(failedChecks(dbLimitChecks(report)), JSON.stringify(report.underPressure.unclearErrors.slice(0, 5))).toBe("");
  expect(report.underPressure.byStatus["503"] ?? 0).toBeGreaterThan(0);
});

it("never has two lock holders, and completes every job once while workers are killed mid-job", async () => {
  const report = await runConcurrency(cluster, {
    lockClients: 8,
    lockRounds: 4,
    jobs: 30,
    workers: 3,
    kills: 1,
    stalls: 0,
    deadlineMs: 90_000,
  });
  expect(failedChecks(concurrencyChecks(report))).toBe("");
});
