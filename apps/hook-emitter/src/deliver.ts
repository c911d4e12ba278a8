import { existsSync, type FSWatcher, watch } from "node:fs";

import { type FlushTarget, flushSpool } from "./flush.js";
import { acquireLock, DELIVER_LOCK_FILE, stopLockHolder, type SpoolLock } from "./lock.js";
import { hasSpooled, listSpool } from "./spool.js";

/**
 * The resident deliverer (`logbook-hook deliver`): a background process that sends the spool
 * while hooks keep adding to it, so a hook run only has to write a file.
 *
 * - One per spool: it holds `spool/.deliver.lock` for its whole life (a hook starts one when
 *   no live process holds that lock), and the flush lock only while it sends.
 * - It wakes when a file lands in the spool (a directory watch, with a poll as a safety net)
 *   and sends everything there in capture order, in batches, through `flushSpool`. Events
 *   that arrive while a batch is in flight go in the next one, so a burst costs few requests.
 * - Server unreachable, key refused, no key: it retries with a growing delay (up to
 *   `maxRetryMs`), reading the configuration again each time.
 * - It exits once `idleMs` have passed without a new event and without a successful send.
 *   Before exiting with an empty spool it lets the lock go and looks once more: a hook spools
 *   first and checks the lock second, so every event is either seen here or its hook starts
 *   the next deliverer. It also exits when the spool directory is gone.
 */

export interface DeliverOptions {
  /** Exit after this long without a new event and without a successful send. */
  idleMs: number;
  /** Longest wait between two attempts while the server cannot take the spool. @default 10000 */
  maxRetryMs?: number;
  /** How often the spool is looked at when no change notice comes. @default 1000 */
  pollMs?: number;
  /** Per-request budget. @default 30000 */
  timeoutMs?: number;
  /**
   * How often the deliverer's lock is marked alive, on a timer, so a drain longer than
   * `LOCK_STALE_MS` does not look like a dead holder. @default 20000
   */
  refreshLockMs?: number;
  /** Where to send; called before every attempt, so changed credentials are picked up. */
  target: () => FlushTarget;
  log: (level: "info" | "warn" | "error", message: string) => void;
  /** Stops the loop (after the request in flight, if any). */
  signal?: AbortSignal;
}

export type DeliverEnd =
  | "idle" // nothing new for idleMs (the spool may still hold events the server would not take)
  | "busy" // another deliverer holds the lock
  | "gone" // the spool directory was removed
  | "stopped" // the signal fired
  | "lost-lock"; // our lock was taken over as stale (we were stalled for minutes)

export interface DeliverResult {
  end: DeliverEnd;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Events still spooled when it ended. */
  remaining: number;
}

/** The lock's mtime is refreshed this often; `LOCK_STALE_MS` (2 min) declares a silent holder dead. */
const REFRESH_LOCK_MS = 20_000;
const FIRST_RETRY_MS = 500;
/** While a `logbook-hook flush` run by a person holds the flush lock. */
const LOCKED_RETRY_MS = 200;

/** A sleep that a change notice cuts short; a notice during work makes the next sleep return at once. */
class Wakeup {
  private pending = false;
  private cut: (() => void) | undefined;

  notify(): void {
    if (this.cut) this.cut();
    else this.pending = true;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted === true) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.cut = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done);
      this.cut = done;
    });
  }
}

function watchSpool(spoolDir: string, wakeup: Wakeup): FSWatcher | undefined {
  try {
    const watcher = watch(spoolDir, { persistent: true }, () => wakeup.notify());
    // e.g. the directory was removed: fall back to polling, which notices that and ends.
    watcher.on("error", () => {
      watcher.close();
      wakeup.notify();
    });
    return watcher;
  } catch {
    return undefined; // a file system without change notices: the poll does the work
  }
}

export async function deliver(spoolDir: string, options: DeliverOptions): Promise<DeliverResult> {
  const result: DeliverResult = { end: "idle", accepted: 0, duplicates: 0, rejected: 0, remaining: 0 };
  const finish = (end: DeliverEnd): DeliverResult => {
    result.end = end;
    result.remaining = listSpool(spoolDir).length;
    return result;
  };
  if (!existsSync(spoolDir)) return finish("gone");
  let role: SpoolLock | undefined = acquireLock(spoolDir, DELIVER_LOCK_FILE);
  if (!role) return finish("busy");

  const maxRetryMs = options.maxRetryMs ?? 10_000;
  const pollMs = options.pollMs ?? 1_000;
  const wakeup = new Wakeup();
  const watcher = watchSpool(spoolDir, wakeup);
  // On a timer rather than between flushes: one drain of a large spool can outlast LOCK_STALE_MS.
  let lostRole = false;
  const heartbeat = setInterval(() => {
    if (role !== undefined && !role.refresh()) {
      lostRole = true;
      wakeup.notify();
    }
  }, options.refreshLockMs ?? REFRESH_LOCK_MS);
  heartbeat.unref();
  let lastActivity = Date.now();
  let newestSeen = "";
  let retryAt = 0;
  let retryDelay = 0;
  let failing: string | undefined;
  try {
    for (;;) {
      if (options.signal?.aborted === true) return finish("stopped");
      if (!existsSync(spoolDir)) return finish("gone");
      if (lostRole) return finish("lost-lock");
      const names = listSpool(spoolDir);
      const newest = names.at(-1);
      if (newest !== undefined && newest > newestSeen) {
        newestSeen = newest;
        lastActivity = Date.now();
      }

      if (names.length > 0 && Date.now() >= retryAt) {
        const sent = await flushSpool(spoolDir, options.target(), {
          timeoutMs: options.timeoutMs ?? 30_000,
          log: options.log,
        });
        result.accepted += sent.accepted;
        result.duplicates += sent.duplicates;
        result.rejected += sent.rejected;
        const progress = sent.accepted + sent.duplicates + sent.rejected > 0;
        if (progress) lastActivity = Date.now();
        if ((sent.stop === "empty" || sent.stop === "lost-lock") && (progress || sent.remaining === 0)) {
          if (failing !== undefined) options.log("info", `deliver: sending again after "${failing}"`);
          failing = undefined;
          retryDelay = 0;
          retryAt = 0;
          continue;
        }
        if (sent.stop === "empty" || sent.stop === "lost-lock") {
          // Files are left that the flush could neither send nor set aside (e.g. rejected/
          // cannot be written): never go round again at once, that is a busy loop.
          retryDelay = Math.min(retryDelay === 0 ? FIRST_RETRY_MS : retryDelay * 2, maxRetryMs);
          retryAt = Date.now() + retryDelay;
          const why = `${sent.remaining} spool entr${sent.remaining === 1 ? "y" : "ies"} could not be sent or set aside`;
          if (failing !== why) options.log("error", `deliver: ${why}; retrying`);
          failing = why;
        } else if (sent.stop === "locked") {
          retryAt = Date.now() + LOCKED_RETRY_MS;
        } else {
          retryDelay = Math.min(retryDelay === 0 ? FIRST_RETRY_MS : retryDelay * 2, maxRetryMs);
          retryAt = Date.now() + retryDelay;
          const why = sent.message ?? sent.stop;
          if (failing !== why) options.log(sent.stop === "unavailable" ? "warn" : "error", `deliver: ${why}; retrying`);
          failing = why;
        }
      }

      const quietFor = Date.now() - lastActivity;
      if (quietFor >= options.idleMs) {
        if (names.length > 0) {
          options.log(
            "warn",
            `deliver: nothing sent for ${Math.round(quietFor / 1000)} s; exiting with ${names.length} event(s) spooled (the next hook starts a new deliverer)`,
          );
          return finish("idle");
        }
        role.release();
        role = undefined;
        if (!hasSpooled(spoolDir)) return finish("idle");
        // A hook spooled after our last look and saw our lock: the event is ours to send.
        role = acquireLock(spoolDir, DELIVER_LOCK_FILE);
        if (!role) return finish("busy");
        lastActivity = Date.now();
        continue;
      }
      let wait = Math.min(pollMs, options.idleMs - quietFor);
      if (names.length > 0) wait = Math.min(wait, retryAt - Date.now());
      await wakeup.sleep(wait, options.signal);
    }
  } finally {
    clearInterval(heartbeat);
    watcher?.close();
    role?.release();
  }
}

/**
 * Asks the deliverer serving `spoolDir` to stop (SIGTERM: it finishes the request in flight,
 * if any, and lets its lock go). For tools and tests that run hooks and must not leave a
 * deliverer idling behind them. True when a live one was signalled.
 */
export function stopDeliverer(spoolDir: string): boolean {
  return stopLockHolder(spoolDir, DELIVER_LOCK_FILE);
}
