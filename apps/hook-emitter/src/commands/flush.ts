import { parseArgs } from "node:util";

import { loadConfig } from "../config.js";
import { flushSpool, type FlushResult } from "../flush.js";
import { logLine } from "../log.js";
import { tightenPermissions } from "../permissions.js";
import { cleanStaleTemp, hasSpooled } from "../spool.js";

function describeFlush(result: FlushResult): string {
  const sent = `sent ${result.accepted + result.duplicates} (${result.accepted} new, ${result.duplicates} already stored)`;
  const rejected = result.rejected > 0 ? `, ${result.rejected} refused (see spool/rejected/)` : "";
  return `${sent}${rejected}, ${result.remaining} left in the spool`;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Sends the whole spool. `--quiet` (the background flush a hook starts) gives up at once when
 * another process flushes; otherwise it waits for that one to finish, then sends what is left.
 * After letting the lock go it looks again, so an event spooled during the last batch is not
 * left behind until the next hook.
 */
export async function flushCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { quiet: { type: "boolean" } }, strict: true });
  const quiet = values.quiet === true;
  const config = loadConfig();
  const log = (level: "info" | "warn" | "error", message: string) => logLine(config.logFile, level, message);
  tightenPermissions(config);
  cleanStaleTemp(config.spoolDir);
  const total: FlushResult = { stop: "empty", accepted: 0, duplicates: 0, rejected: 0, remaining: 0 };
  const waitUntil = Date.now() + 120_000;
  let stuck = 0;
  for (let round = 0; round < 1000; round++) {
    const result = await flushSpool(
      config.spoolDir,
      { url: config.url, apiKey: config.apiKey },
      { timeoutMs: 30_000, log },
    );
    total.accepted += result.accepted;
    total.duplicates += result.duplicates;
    total.rejected += result.rejected;
    total.remaining = result.remaining;
    total.stop = result.stop;
    if (result.message !== undefined) total.message = result.message;
    if (result.stop === "locked") {
      if (quiet || Date.now() > waitUntil) break;
      await sleep(200);
      continue;
    }
    if (result.stop === "empty" || result.stop === "lost-lock") {
      if (!hasSpooled(config.spoolDir)) {
        total.remaining = 0;
        break;
      }
      // Progress: look again (events spooled meanwhile). None twice in a row: what is left can
      // neither be sent nor set aside, and going round again would only spin.
      stuck = result.accepted + result.duplicates + result.rejected > 0 ? 0 : stuck + 1;
      if (stuck < 2) continue;
      total.message = `${result.remaining} spool entr${result.remaining === 1 ? "y" : "ies"} could not be sent or set aside`;
    }
    break;
  }
  if (total.accepted + total.duplicates + total.rejected > 0 || (total.stop !== "empty" && total.stop !== "locked")) {
    log(
      total.stop === "empty" ? "info" : "warn",
      `flush: ${describeFlush(total)}${total.message ? ` (${total.message})` : ""}`,
    );
  }
  if (!quiet) {
    if (total.stop === "locked") process.stdout.write("another flush is still running; try again later\n");
    else
      process.stdout.write(
        `${describeFlush(total)}${total.stop === "empty" ? "" : `: ${total.message ?? total.stop}`}\n`,
      );
  }
  return total.remaining === 0 ? 0 : 1;
}
