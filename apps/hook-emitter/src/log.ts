import { appendFileSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";

import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "./spool.js";

/** The log is rotated once it passes this size: one old generation (`hook.log.1`) is kept. */
export const MAX_LOG_BYTES = 1024 * 1024;
const MAX_LINE_CHARS = 2000;

export type LogLevel = "info" | "warn" | "error";

/**
 * Appends one line to the emitter's log. Never throws: a hook that cannot log still has to
 * exit 0 without a word on stdout, so a failure to log is swallowed.
 */
export function logLine(file: string, level: LogLevel, message: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    try {
      if (statSync(file).size > MAX_LOG_BYTES) renameSync(file, `${file}.1`);
    } catch {
      // no log yet
    }
    const text = message.length > MAX_LINE_CHARS ? `${message.slice(0, MAX_LINE_CHARS)}…` : message;
    // 0600: a log line can name a session or quote a server's message about a payload.
    appendFileSync(file, `${new Date().toISOString()} pid=${process.pid} ${level} ${text.replace(/\r?\n/g, " ")}\n`, {
      mode: PRIVATE_FILE_MODE,
    });
  } catch {
    // nowhere to log
  }
}
