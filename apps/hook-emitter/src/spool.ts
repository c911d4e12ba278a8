import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { randomHex } from "./ids.js";

/**
 * The spool: one file per event under `$LOGBOOK_HOME/spool`, named `<uuidv7>.json`, so the
 * directory's lexical order is capture order. Each file holds one hook envelope exactly as
 * `hooks.ingest` takes it: `{"id","occurredAt","machineId","payload"}`.
 *
 * - Writes are atomic: a temp file in `spool/tmp/` renamed into place, so a reader never
 *   sees half a file.
 * - The locks (who may send, `lock.ts`) and the flush (sending, `flush.ts`) are modules of
 *   their own; this one is only the files, and is on the hook's hot path.
 */

const SPOOL_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/;
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
  mkdirSync(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `${name}.${process.pid}.${randomHex(4)}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, join(dir, name));
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

/** Keeps a payload the server refused (or that was never valid) out of the queue, for a person to look at. */
export function moveToRejected(spoolDir: string, name: string): void {
  const rejectedDir = join(spoolDir, "rejected");
  mkdirSync(rejectedDir, { recursive: true });
  renameSync(join(spoolDir, name), join(rejectedDir, name));
}

export function writeRejected(spoolDir: string, name: string, data: string | Buffer): void {
  writeAtomic(join(spoolDir, "rejected"), name, data);
}

export function markOffline(spoolDir: string): void {
  try {
    mkdirSync(spoolDir, { recursive: true });
    writeFileSync(join(spoolDir, OFFLINE_FILE), new Date().toISOString());
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

/** Deletes temp files left in `spool/tmp/` by writers that died mid-write (older than an hour). */
export function cleanStaleTemp(spoolDir: string): void {
  const tmpDir = join(spoolDir, "tmp");
  try {
    for (const name of readdirSync(tmpDir)) {
      const path = join(tmpDir, name);
      if (Date.now() - statSync(path).mtimeMs > 3_600_000) unlinkSync(path);
    }
  } catch {
    // no temp dir
  }
}
