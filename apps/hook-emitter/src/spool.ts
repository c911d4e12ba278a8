import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { randomHex } from "./ids.js";

/**
 * The spool: one file per event under `$LOGBOOK_HOME/spool`, named `<uuidv7>.json`, so the
 * directory's lexical order is capture order. Each file holds one hook envelope exactly as
 * `hooks.ingest` takes it: `{"id","occurredAt","machineId","payload"}`.
 *
 * - Writes are atomic: a temp file in `spool/tmp/` renamed into place, so a reader never
 *   sees half a file. A write that fails (full disk, file size limit) removes its temp file.
 * - Private: folders are created 0700 and files 0600 (a spooled event holds prompts and tool
 *   output); `tightenPermissions` (`permissions.ts`) fixes those an older version left open.
 * - The locks (who may send, `lock.ts`) and the flush (sending, `flush.ts`) are modules of
 *   their own; this one is only the files, and is on the hook's hot path.
 */

const SPOOL_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/;
/** Modes of everything the emitter creates: only its user may read a spooled prompt. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** A temp file this old was left by a writer that died mid-write (a write takes milliseconds). */
export const STALE_TEMP_MS = 5 * 60_000;
/** Set by any failed send; hooks skip flush attempts while it is fresh. */
export const OFFLINE_FILE = ".offline";
export const OFFLINE_BACKOFF_MS = 5_000;

export function spoolFileName(id: string): string {
  return `${id}.json`;
}

/** `{"id",...,"payload":<raw>}` built as text, so the payload is never re-serialised. */
export function envelopeText(id: string, occurredAt: string, machineId: string, payloadJson: string): string {
  return `{"id":"${id}","occurredAt":"${occurredAt}","machineId":${JSON.stringify(machineId)},"payload":${payloadJson}}`;
}

/** Atomically writes `name` into `dir` (temp file in `dir/tmp`, then rename). */
export function writeAtomic(dir: string, name: string, data: string | Buffer): void {
  const tmpDir = join(dir, "tmp");
  mkdirSync(tmpDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const tmp = join(tmpDir, `${name}.${process.pid}.${randomHex(4)}.tmp`);
  try {
    writeFileSync(tmp, data, { mode: PRIVATE_FILE_MODE });
    renameSync(tmp, join(dir, name));
  } catch (error) {
    // Full disk or size limit: the file may be there, half written. Leave nothing behind.
    safeUnlink(tmp);
    throw error;
  }
}

export function spoolEvent(spoolDir: string, id: string, text: string): void {
  writeAtomic(spoolDir, spoolFileName(id), text);
}

/** Spool files in capture order. */
export function listSpool(spoolDir: string): string[] {
  try {
    return readdirSync(spoolDir)
      .filter((name) => SPOOL_FILE.test(name))
      .sort();
  } catch {
    return [];
  }
}

export function hasSpooled(spoolDir: string): boolean {
  try {
    return readdirSync(spoolDir).some((name) => SPOOL_FILE.test(name));
  } catch {
    return false;
  }
}

/**
 * Keeps a spool entry that must not be sent again (refused by the server, unreadable, not an
 * envelope) out of the queue, for a person to look at: moved to `rejected/` as it is (a file or
 * a folder), with `<name>.reason` beside it saying why.
 */
export function moveToRejected(spoolDir: string, name: string, reason: string): void {
  const rejectedDir = join(spoolDir, "rejected");
  mkdirSync(rejectedDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  renameSync(join(spoolDir, name), join(rejectedDir, name));
  writeReason(rejectedDir, name, reason);
}

/** Writes a payload that was never sendable (`<id>.raw`) or that the server refused to `rejected/`, with its reason. */
export function writeRejected(spoolDir: string, name: string, data: string | Buffer, reason: string): void {
  const rejectedDir = join(spoolDir, "rejected");
  writeAtomic(rejectedDir, name, data);
  writeReason(rejectedDir, name, reason);
}

/** Suffix of the file beside a rejected entry that says why it is there. */
export const REASON_SUFFIX = ".reason";

function writeReason(rejectedDir: string, name: string, reason: string): void {
  try {
    writeAtomic(rejectedDir, `${name}${REASON_SUFFIX}`, `${new Date().toISOString()} ${reason}\n`);
  } catch {
    // the entry itself is set aside; its reason is also in the log
  }
}

export function markOffline(spoolDir: string): void {
  try {
    mkdirSync(spoolDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    writeFileSync(join(spoolDir, OFFLINE_FILE), new Date().toISOString(), { mode: PRIVATE_FILE_MODE });
  } catch {
    // only an optimisation
  }
}

export function clearOffline(spoolDir: string): void {
  try {
    unlinkSync(join(spoolDir, OFFLINE_FILE));
  } catch {
    // not there
  }
}

export function recentlyOffline(spoolDir: string, now: number = Date.now()): boolean {
  try {
    return now - statSync(join(spoolDir, OFFLINE_FILE)).mtimeMs < OFFLINE_BACKOFF_MS;
  } catch {
    return false;
  }
}

export function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Deletes temp files left in `spool/tmp/` and `spool/rejected/tmp/` by writers that died
 * mid-write (killed, or a full disk before the clean-up in `writeAtomic` existed). Returns how
 * many it deleted.
 */
export function cleanStaleTemp(spoolDir: string, now: number = Date.now()): number {
  let deleted = 0;
  for (const tmpDir of [join(spoolDir, "tmp"), join(spoolDir, "rejected", "tmp")]) {
    let names: string[];
    try {
      names = readdirSync(tmpDir);
    } catch {
      continue; // no temp dir
    }
    for (const name of names) {
      const path = join(tmpDir, name);
      try {
        if (now - statSync(path).mtimeMs > STALE_TEMP_MS) {
          unlinkSync(path);
          deleted++;
        }
      } catch {
        // gone meanwhile, or not ours to delete
      }
    }
  }
  return deleted;
}
