/**
 * The emitter on a hostile machine at a small size (the full one is `pnpm reliability --only
 * emitter-hostile`): full disk and unwritable spool (events sent directly, none lost), bad
 * spool entries quarantined, a deliverer that cannot set an entry aside backs off and exits,
 * private modes.
 */
import { afterAll, beforeAll, expect, it } from "vitest";

import { startCluster, type Cluster } from "./lib/cluster.js";
import { failedChecks } from "./lib/expect-checks.js";
import { emitterHostileChecks, runEmitterHostile } from "./suites/emitter-hostile.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ name: "emitter-hostile-test" });
});
afterAll(() => cluster?.close());

it("loses no event it cannot spool, quarantines bad entries, never spins, keeps its files private", async () => {
  const report = await runEmitterHostile(cluster, { hooks: 5, idleMs: 2_000 });
  expect(failedChecks(emitterHostileChecks(report))).toBe("");
  expect(report.fullDisk.stored).toBe(5);
});
