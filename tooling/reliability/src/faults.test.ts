/**
 * The fast fault scenario (the full one is `pnpm reliability`): 8 emitter lanes, a few
 * thousand events, the server SIGKILLed twice and PostgreSQL restarted once mid-stream;
 * then SIGTERM under load loses no acknowledged write.
 */
import { afterAll, beforeAll, expect, it } from "vitest";

import { faultChecks, shutdownChecks } from "./checks.js";
import { startCluster, type Cluster } from "./lib/cluster.js";
import { failedChecks } from "./lib/expect-checks.js";
import { runFaults, runGracefulShutdown } from "./suites/faults.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ name: "faults-test" });
});
afterAll(() => cluster?.close());

it.each(["background", "direct"] as const)(
  "stores every event exactly once through two server kills and a database restart (%s delivery)",
  async (delivery) => {
    const report = await runFaults(cluster, { lanes: 8, eventsPerLane: 300, binaryEvery: 10, delivery });
    expect(failedChecks(faultChecks(report))).toBe("");
    expect(report.stored.distinctEvents).toBe(2_400);
    expect(report.faults).toHaveLength(3);
  },
);

it("loses no acknowledged write when stopped with SIGTERM under load", async () => {
  const report = await runGracefulShutdown(cluster, { clients: 4, batchSize: 20, loadMs: 4_000 });
  expect(failedChecks(shutdownChecks(report))).toBe("");
});
