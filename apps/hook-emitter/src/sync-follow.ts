import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve, sep } from "node:path";

import { watch } from "chokidar";

import { acquireLock } from "./lock.js";
import { type SyncOptions, SendStopped, emptySummary, syncFile, syncOnce } from "./sync.js";
import { fileKey, FOLLOW_LOCK_FILE, loadFileStates } from "./sync-state.js";

/**
 * `logbook-hook sync --follow`: the resident follower. One per `$LOGBOOK_HOME` (it holds
 * `sync/.follow.lock`). It catches up with a full pass, then sends the files chokidar reports
 * as changed, a moment (`settleMs`) after the change so a burst of appended lines goes in one
 * request. chokidar rather than `fs.watch`: Node 20's recursive `fs.watch` is not dependable
 * on Linux, and chokidar also follows folders created later (a new project). A full pass every
 * `rescanMs` (60 s) is the safety net for a change notice that never came (network or
 * container file systems) and for files quiet long enough to be planned without a session.
 * Only roots that exist are watched (chokidar would watch the nearest folder above a missing
 * one); a missing root is looked for every 2 s and followed from when it appears.
 *
 * Server down or restarting, key refused: the offsets stay where they are and it tries again
 * with a growing delay (0.5 s doubling to 10 s), one log line when that starts and one when it
 * ends. With `idleExitMs` (the follower the deliverer starts) it exits after that long without
 * a transcript change and with nothing left to send; the next hook's deliverer starts it again.
 */

export interface FollowOptions extends SyncOptions {
  /** Exit after this long without a change (0: run until stopped). */
  idleExitMs: number;
  log: (level: "info" | "warn" | "error", message: string) => void;
  signal?: AbortSignal;
  /** @default 60000 */
  rescanMs?: number;
  /** @default 200 */
  settleMs?: number;
  /** @default 10000 */
  maxRetryMs?: number;
  /** Called after every pass that sent something (tests, status). */
  onPass?: () => void;
}

/** How often a root that does not exist yet is looked for. */
const MISSING_ROOT_POLL_MS = 2_000;

export type FollowEnd = "idle" | "busy" | "stopped" | "lost-lock";

export async function follow(roots: string[], options: FollowOptions): Promise<FollowEnd> {
  const lock = acquireLock(options.syncDir, FOLLOW_LOCK_FILE);
  if (lock === undefined) return "busy";
  const refresher = setInterval(() => lock.refresh(), 20_000);
  refresher.unref();
  const states = loadFileStates(options.syncDir);
  const dirty = new Set<string>();
  let wake: (() => void) | undefined;
  const under = roots.map((root) => resolve(root));
  const notify = (path: string) => {
    // Only transcripts below the roots (chokidar reports what it watches; be strict anyway).
    const full = resolve(path);
    if (!full.endsWith(".jsonl") || !under.some((root) => full === root || full.startsWith(root + sep))) return;
    dirty.add(path);
    lastChange = Date.now();
    wake?.();
  };
  let lastChange = Date.now();
  // Only roots that exist: chokidar would otherwise watch the nearest existing folder above a
  // missing one. A root created later is added at the next full pass.
  const watched = new Set(under.filter((root) => existsSync(root)));
  const watcher = watch([...watched], {
    ignoreInitial: true,
    // Folders are walked; of files, only transcripts are watched.
    ignored: (path, info) => info?.isFile() === true && !path.endsWith(".jsonl"),
  });
  watcher.on("add", notify).on("change", notify);
  watcher.on("error", (error) => options.log("warn", `sync: watcher: ${(error as Error).message}`));
  const onAbort = () => wake?.();
  options.signal?.addEventListener("abort", onAbort);

  const rescanMs = options.rescanMs ?? 60_000;
  const settleMs = options.settleMs ?? 200;
  const maxRetryMs = options.maxRetryMs ?? 10_000;
  let lastFull = 0;
  let retryMs = 0;
  let failing = false;
  const sleep = (ms: number) =>
    new Promise<void>((done) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        wake = undefined;
        done();
      }
      wake = finish;
    });

  try {
    for (;;) {
      if (options.signal?.aborted) return "stopped";
      if (!lock.refresh()) return "lost-lock";
      const summary = emptySummary();
      try {
        for (const root of under)
          if (!watched.has(root) && existsSync(root)) {
            // Created since (Claude Code's first run here): watch it, and read it all now.
            watched.add(root);
            watcher.add(root);
            lastFull = 0;
          }
        if (Date.now() - lastFull >= rescanMs) {
          dirty.clear();
          await syncOnce(roots, options, summary, states);
          lastFull = Date.now();
        } else {
          const paths = [...dirty];
          dirty.clear();
          for (const path of paths) {
            try {
              const info = await stat(path);
              const key = fileKey(info.dev, info.ino);
              states.set(key, await syncFile(path, info, states.get(key), options, summary));
            } catch (error) {
              if (error instanceof SendStopped) {
                for (const again of paths) dirty.add(again);
                throw error;
              }
              if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
            }
          }
        }
        if (failing) options.log("info", "sync: the server takes transcripts again");
        failing = false;
        retryMs = 0;
        if (summary.changed > 0) {
          lastChange = Date.now();
          options.onPass?.();
        }
      } catch (error) {
        if (!(error instanceof SendStopped)) throw error;
        if (!failing) options.log("warn", `sync: cannot send transcripts, will retry: ${error.message}`);
        failing = true;
        retryMs = Math.min(maxRetryMs, retryMs === 0 ? 500 : retryMs * 2);
        lastFull = 0; // after an outage, look at everything again
        // Idle is idle even while the server is away: the offsets keep what is left, and the
        // next hook's deliverer starts a follower that goes on from them.
        if (options.idleExitMs > 0 && Date.now() - lastChange >= options.idleExitMs) return "idle";
        await sleep(retryMs);
        continue;
      }
      if (options.idleExitMs > 0 && Date.now() - lastChange >= options.idleExitMs && dirty.size === 0) return "idle";
      if (dirty.size === 0) {
        // A missing root is looked for every few seconds, not only at the next full pass.
        const untilRescan = Math.min(
          Math.max(0, lastFull + rescanMs - Date.now()),
          watched.size < under.length ? MISSING_ROOT_POLL_MS : Infinity,
        );
        const untilIdle = options.idleExitMs > 0 ? Math.max(0, lastChange + options.idleExitMs - Date.now()) : Infinity;
        await sleep(Math.min(untilRescan, untilIdle));
      }
      // Let the rest of a burst land (a plain timer: a change notice must not cut it short).
      if (dirty.size > 0) await new Promise((done) => setTimeout(done, settleMs));
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    clearInterval(refresher);
    await watcher.close();
    lock.release();
  }
}
