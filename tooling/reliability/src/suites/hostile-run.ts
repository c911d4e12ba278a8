import type { Cluster } from "../lib/cluster.js";
import { keyWith, startServer } from "../lib/server.js";
import { runHostile, type HostileReport } from "./hostile.js";

/** Starts a server on `cluster` with a small body limit and runs the hostile-input suite against it. */
export async function hostileScenario(
  cluster: Cluster,
  options: { runsPerProcedure: number; hookRuns: number; seed: number; log?: (line: string) => void },
): Promise<HostileReport> {
  const bodyLimitBytes = 256 * 1024;
  const server = await startServer(cluster.url, {
    BODY_LIMIT_BYTES: String(bodyLimitBytes),
    JOB_RECOVERY_INTERVAL_MS: "0",
  });
  try {
    const adminKey = await keyWith(server, ["admin"], "fuzz-admin");
    const readKey = await keyWith(server, ["read"], "fuzz-read");
    return await runHostile({ server, knex: cluster.knex, adminKey, readKey, bodyLimitBytes, ...options });
  } finally {
    await server.stop();
  }
}
