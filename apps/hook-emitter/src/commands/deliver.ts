import { parseArgs } from "node:util";

import { startInBackground } from "../background.js";
import { loadConfig } from "../config.js";
import { deliver } from "../deliver.js";
import { logLine } from "../log.js";
import { tightenPermissions } from "../permissions.js";
import { cleanStaleTemp } from "../spool.js";
import { FOLLOW_LOCK_FILE, readSyncSettings } from "../sync-state.js";
import { lockHeldByLiveProcess } from "../lock.js";

/**
 * The resident deliverer a hook starts (see `deliver.ts`). Quiet: it runs detached, so
 * problems go to the log. Exit 0 whatever happened; SIGTERM/SIGINT/SIGHUP stop it cleanly.
 */
export async function deliverCommand(args: string[]): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  const config = loadConfig();
  const log = (level: "info" | "warn" | "error", message: string) => logLine(config.logFile, level, message);
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(signal, () => {
      stop.abort();
      // A request in flight may take its whole budget: do not wait for it (the locks name a dead pid then).
      setTimeout(() => process.exit(0), 1_000).unref();
    });
  }
  tightenPermissions(config);
  cleanStaleTemp(config.spoolDir);
  // Transcript sync rides on the deliverer: hooks fire while Claude Code writes transcripts,
  // so a follower started here runs exactly when there is something to follow (`install`
  // turns it on; the hook's own hot path pays nothing for it).
  if (readSyncSettings(config.syncDir).follow && !lockHeldByLiveProcess(config.syncDir, FOLLOW_LOCK_FILE))
    await startInBackground(config, ["sync", "--idle-exit"], log);
  try {
    await deliver(config.spoolDir, {
      idleMs: config.deliverIdleMs,
      target: () => {
        const fresh = loadConfig();
        return { url: fresh.url, apiKey: fresh.apiKey };
      },
      log,
      signal: stop.signal,
    });
  } catch (error) {
    // Nobody reads this process's stderr: the log is the only place a failure can be seen.
    log(
      "error",
      `deliver: stopped by an unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
  return 0;
}
