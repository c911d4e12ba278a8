import { hostname } from "node:os";
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

import { randomHex } from "./ids.js";
import { processAlive } from "./process-alive.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, safeUnlink } from "./spool.js";

/**
 * The spool's locks. One flusher at a time: `spool/.flush.lock` is created with `O_EXCL` and
 * names its holder (pid, host, token); a lock whose process is gone, or untouched for
 * `LOCK_STALE_MS`, is taken over (renamed aside, checked, then re-created). The resident
 * deliverer holds `spool/.deliver.lock` the same way for its whole life, and the flush lock
 * only while it sends, so a `logbook-hook flush` never waits for it to go idle.
 */

export const LOCK_FILE = ".flush.lock";
/** Held by the resident deliverer (`logbook-hook deliver`) for as long as it runs. */
export const DELIVER_LOCK_FILE = ".deliver.lock";
/** A lock refreshed less recently than this is abandoned (its holder refreshes it every batch). */
export const LOCK_STALE_MS = 120_000;

export interface SpoolLock {
  /** Marks the lock as alive; false when it was taken from us (we then must stop). */
  refresh(): boolean;
  release(): void;
}

interface LockInfo {
  content: string;
  mtimeMs: number;
}

function readLock(path: string): LockInfo | undefined {
  try {
    const content = readFileSync(path, "utf8");
    return { content, mtimeMs: statSync(path).mtimeMs };
  } catch {
    return undefined;
  }
}

function isStale(info: LockInfo, now: number): boolean {
  if (now - info.mtimeMs > LOCK_STALE_MS) return true;
  let holder: { pid?: unknown; host?: unknown };
  try {
    holder = JSON.parse(info.content) as { pid?: unknown; host?: unknown };
  } catch {
    // Being written right now (created, not yet filled): alive unless it stays empty.
    return now - info.mtimeMs > 5_000;
  }
  return holder.host === hostname() && typeof holder.pid === "number" && !processAlive(holder.pid);
}

/**
 * Whether a live process holds the lock `file`: what a hook asks before starting a deliverer.
 * Only reads (the lock file, and `kill(pid, 0)`), so it costs a hook a fraction of a millisecond.
 */
export function lockHeldByLiveProcess(spoolDir: string, file: string, now: number = Date.now()): boolean {
  const info = readLock(join(spoolDir, file));
  return info !== undefined && !isStale(info, now);
}

/**
 * The pid of the live process on this host that holds the lock `file`, or undefined: never
 * the pid of a stale lock, which may by now belong to an unrelated process.
 */
export function liveLockHolder(spoolDir: string, file: string, now: number = Date.now()): number | undefined {
  const info = readLock(join(spoolDir, file));
  if (info === undefined || isStale(info, now)) return undefined;
  try {
    const holder = JSON.parse(info.content) as { pid?: unknown; host?: unknown };
    return holder.host === hostname() && typeof holder.pid === "number" ? holder.pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks the live process on this host that holds the lock `file` to stop (SIGTERM: the
 * deliverer and the follower finish what is in flight and let their lock go). Never this
 * process, never the pid of a stale lock. True when one was signalled.
 */
export function stopLockHolder(dir: string, file: string): boolean {
  const pid = liveLockHolder(dir, file);
  if (pid === undefined || pid === process.pid) return false;
  try {
    process.kill(pid, "SIGTERM");
    return true;
  } catch {
    return false; // gone meanwhile
  }
}

/**
 * Takes a lock (by default the flush lock; the deliverer's is `DELIVER_LOCK_FILE`), or returns
 * undefined when a live process holds it.
 */
export function acquireLock(
  spoolDir: string,
  file: string = LOCK_FILE,
  now: () => number = Date.now,
): SpoolLock | undefined {
  mkdirSync(spoolDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const path = join(spoolDir, file);
  const content = JSON.stringify({
    pid: process.pid,
    host: hostname(),
    token: randomHex(8),
    at: new Date().toISOString(),
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx", PRIVATE_FILE_MODE);
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      return ownedLock(path, content);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const info = readLock(path);
    if (info === undefined) continue; // released meanwhile: try again
    if (!isStale(info, now())) return undefined;
    // Take over: move the stale lock aside (only one contender's rename succeeds), check we moved
    // the stale one and not a fresh lock someone else just made; put a fresh one back if we did.
    const aside = `${path}.${process.pid}.${randomHex(4)}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    let moved = "";
    try {
      moved = readFileSync(aside, "utf8");
    } catch {
      // vanished: nothing to restore
    }
    if (moved !== info.content) {
      try {
        linkSync(aside, path);
      } catch {
        // someone created a lock meanwhile; theirs stands
      }
      safeUnlink(aside);
      return undefined;
    }
    safeUnlink(aside);
  }
  return undefined;
}

function ownedLock(path: string, content: string): SpoolLock {
  const ours = () => {
    try {
      return readFileSync(path, "utf8") === content;
    } catch {
      return false;
    }
  };
  return {
    refresh() {
      if (!ours()) return false;
      try {
        const now = new Date();
        utimesSync(path, now, now);
      } catch {
        return false;
      }
      return true;
    },
    release() {
      if (ours()) safeUnlink(path);
    },
  };
}
