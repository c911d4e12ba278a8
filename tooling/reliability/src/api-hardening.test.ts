/**
 * The API hardening probes at a small size (the full one is `pnpm reliability --only
 * api-hardening`): prototype names, no-input lists, batch limits, the auth throttle, a
 * revoked key's stream, inexact numbers, and 10 concurrent 7.9 MiB posts under the budget.
 */
import { afterAll, beforeAll, expect, it } from "vitest";

import { startCluster, type Cluster } from "./lib/cluster.js";
import { failedChecks } from "./lib/expect-checks.js";
import { apiHardeningChecks, runApiHardening } from "./suites/api-hardening.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ name: "api-hardening-test" });
});
afterAll(() => cluster?.close());

it("refuses what an outside attacker tried, with clear 4xx/503, and bounds memory under big bodies", async () => {
  const report = await runApiHardening(cluster, { wrongKeys: 60, bigBodyRuns: [] });
  expect(failedChecks(apiHardeningChecks(report))).toBe("");
});
