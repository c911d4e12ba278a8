import { isProcessAlive, openDatabase, type Database } from "@logbook/db";

import type { ServerConfig } from "./config.js";
import { readRuntimeInfo } from "./credentials.js";

/**
 * The database for a one-off command (`migrate`, `keys …`). With the embedded PostgreSQL,
 * a server already running on this LOGBOOK_HOME owns the cluster: connect to it rather
 * than start a second PostgreSQL on the same data directory.
 */
export async function openCommandDatabase(config: ServerConfig, log: (line: string) => void): Promise<Database> {
  if (!config.databaseUrl) {
    const running = await readRuntimeInfo(config.home);
    if (running?.embeddedDatabaseUrl && running.pid !== process.pid && isProcessAlive(running.pid)) {
      log(`using the embedded PostgreSQL of the running server (pid ${running.pid})`);
      return openDatabase({ databaseUrl: running.embeddedDatabaseUrl, home: config.home, pool: config.pool });
    }
  }
  return openDatabase({ databaseUrl: config.databaseUrl, home: config.home, pool: config.pool });
}
