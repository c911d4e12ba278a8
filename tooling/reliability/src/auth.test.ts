/** The auth matrix over every procedure, keys at rest, and where keys are compared. */
import { afterAll, beforeAll, expect, it } from "vitest";

import { authChecks } from "./checks.js";
import { startCluster, type Cluster } from "./lib/cluster.js";
import { failedChecks } from "./lib/expect-checks.js";
import { startServer } from "./lib/server.js";
import { runAuth } from "./suites/auth.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ name: "auth-test" });
});
afterAll(() => cluster?.close());

it("refuses every procedure without a valid key of the right scope, saying nothing more", async () => {
  const server = await startServer(cluster.url);
  try {
    const report = await runAuth({ server, knex: cluster.knex });
    expect(failedChecks(authChecks(report)), JSON.stringify(report.failures.slice(0, 5), null, 1)).toBe("");
    expect(report.byCase["revoked key"]?.ok).toBe(report.procedures);
  } finally {
    await server.stop();
  }
});
