import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import { EXPECT_CONTINUE_BYTES, httpRequest, NetworkError } from "./http.js";
import { randomHex } from "./ids.js";

/**
 * The spool: one file per event under `$LOGBOOK_HOME/spool`, named `<uuidv7>.json`, so the
 * directory's lexical order is capture order. Each file holds one hook envelope exactly as
 * `hooks.ingest` takes it: `{"id","occurredAt","machineId","payload"}`.
 *
 * - Writes are atomic: a temp file in `spool/tmp/` renamed into place, so a reader never
 *   sees half a file.
 * - One flusher at a time: `spool/.flush.lock` is created with `O_EXCL` and names its
 *   holder (pid, host, token); a lock whose process is gone, or untouched for
 *   `LOCK_STALE_MS`, is taken over (renamed aside, checked, then re-created). The resident
 *   deliverer holds `spool/.deliver.lock` the same way for its whole life, and the flush
 *   lock only while it sends, so a `logbook-hook flush` never waits for it to go idle.
 * - A flush sends in order, in batches, and deletes only the files the server acknowledged.
 *   The server stores a batch all-or-nothing and ignores ids it already has, so a batch
 *   re-sent after a lost answer is harmless (at-least-once sending, exactly-once storing).
 */

const SPOOL_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/;
export const LOCK_FILE = ".flush.lock";
/** Held by the resident deliverer (`logbook-hook deliver`) for as long as it runs. */
export const DELIVER_LOCK_FILE = ".deliver.lock";
/** Set by any failed send; hooks skip flush attempts while it is fresh. */
export const OFFLINE_FILE = ".offline";
export const OFFLINE_BACKOFF_MS = 5_000;
/** A lock refreshed less recently than this is abandoned (its holder refreshes it every batch). */
export const LOCK_STALE_MS = 120_000;
/** Server limits (see the contracts): 1000 events a call; bodies kept well under 4 MB. */
export const MAX_BATCH_EVENTS = 1000;
export const MAX_BATCH_BYTES = 3_500_000;

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

// ---------------------------------------------------------------------------------------
// Lock

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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
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
 * Takes a lock (by default the flush lock; the deliverer's is `DELIVER_LOCK_FILE`), or returns
 * undefined when a live process holds it.
 */
export function acquireLock(
  spoolDir: string,
  file: string = LOCK_FILE,
  now: () => number = Date.now,
): SpoolLock | undefined {
  mkdirSync(spoolDir, { recursive: true });
  const path = join(spoolDir, file);
  const content = JSON.stringify({
    pid: process.pid,
    host: hostname(),
    token: randomHex(8),
    at: new Date().toISOString(),
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
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

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------
// Flush

export interface FlushTarget {
  url: string;
  apiKey: string | undefined;
}

export interface FlushOptions {
  /** Per-request budget. */
  timeoutMs: number;
  /** Stop after this many batches (a hook flushes only a little inline). */
  maxBatches?: number;
  maxBatchEvents?: number;
  maxBatchBytes?: number;
  /** When false, a refused batch is left for a full flush instead of being split. */
  bisect?: boolean;
  log?: (level: "info" | "warn" | "error", message: string) => void;
}

export type FlushStop =
  | "empty" // everything sent
  | "locked" // another flusher holds the lock
  | "limit" // maxBatches reached, more is left
  | "no-key" // no API key configured
  | "unauthorized" // 401/403
  | "unavailable" // network error, timeout, 5xx, unreadable answer
  | "lost-lock"; // our lock was taken over (we were too slow): stop at once

export interface FlushResult {
  stop: FlushStop;
  /** Events the server stored now. */
  accepted: number;
  /** Events the server already had. */
  duplicates: number;
  /** Events moved to `spool/rejected/`. */
  rejected: number;
  /** Spool files left. */
  remaining: number;
  message?: string;
}

interface SpoolItem {
  name: string;
  id: string;
  text: string;
}

type SendOutcome =
  | { kind: "ok"; ids: Set<string>; accepted: number; duplicates: number }
  | { kind: "refused"; status: number; message: string }
  | { kind: "unauthorized"; status: number; message: string }
  | { kind: "unavailable"; message: string };

export function errorMessageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown }; message?: unknown };
    const error = parsed.error;
    if (error && typeof error.message === "string") return error.message;
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 300);
}

/** How the hook protocol reads an HTTP status: stored, the payload is bad, the key is bad, or try later. */
export function classifyStatus(status: number): "ok" | "refused" | "unauthorized" | "unavailable" {
  if (status >= 200 && status < 300) return "ok";
  if (status === 400 || status === 413 || status === 422) return "refused";
  if (status === 401 || status === 403) return "unauthorized";
  return "unavailable";
}

async function sendBatch(target: FlushTarget, items: SpoolItem[], timeoutMs: number): Promise<SendOutcome> {
  const body = `{"events":[${items.map((item) => item.text).join(",")}]}`;
  let response;
  try {
    response = await httpRequest("POST", `${target.url}/trpc/hooks.ingest`, {
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${target.apiKey ?? ""}` },
      body,
      timeoutMs,
    });
  } catch (error) {
    if (
      error instanceof NetworkError &&
      error.duringUpload &&
      items.length === 1 &&
      body.length > EXPECT_CONTINUE_BYTES
    ) {
      // The server took the connection and dropped it while this one large event was coming
      // in: what servers do with a body over their limit. Retrying would block the spool forever.
      return {
        kind: "refused",
        status: 413,
        message: `the server closed the connection while receiving ${body.length} bytes (${error.message})`,
      };
    }
    return { kind: "unavailable", message: error instanceof NetworkError ? error.message : String(error) };
  }
  const kind = classifyStatus(response.status);
  if (kind === "refused" || kind === "unauthorized")
    return { kind, status: response.status, message: errorMessageOf(response.body) };
  if (kind === "unavailable") return { kind, message: `HTTP ${response.status}: ${errorMessageOf(response.body)}` };
  try {
    const data = (
      JSON.parse(response.body) as { result?: { data?: { accepted?: unknown; duplicates?: unknown; ids?: unknown } } }
    ).result?.data;
    const accepted = typeof data?.accepted === "number" ? data.accepted : 0;
    const duplicates = typeof data?.duplicates === "number" ? data.duplicates : 0;
    let ids: Set<string>;
    if (Array.isArray(data?.ids)) ids = new Set(data.ids.filter((id): id is string => typeof id === "string"));
    else if (accepted + duplicates === items.length) ids = new Set(items.map((item) => item.id));
    else return { kind: "unavailable", message: "the server's answer acknowledged no ids" };
    return { kind: "ok", ids, accepted, duplicates };
  } catch {
    return { kind: "unavailable", message: `unreadable answer from the server: ${response.body.slice(0, 200)}` };
  }
}

/** Reads the next batch in order. Files that cannot be envelopes (empty, truncated) go to rejected/. */
function nextBatch(spoolDir: string, maxEvents: number, maxBytes: number, log: FlushOptions["log"]): SpoolItem[] {
  const items: SpoolItem[] = [];
  let bytes = 0;
  for (const name of listSpool(spoolDir)) {
    if (items.length >= maxEvents) break;
    let text: string;
    try {
      text = readFileSync(join(spoolDir, name), "utf8");
    } catch {
      continue; // taken by a flusher that took over our lock, or deleted: skip
    }
    const trimmed = text.trim();
    if (!trimmed.startsWith('{"id":"') || !trimmed.endsWith("}")) {
      log?.("error", `spool file ${name} is not an event envelope (${trimmed.length} bytes): moved to rejected/`);
      try {
        moveToRejected(spoolDir, name);
      } catch {
        // gone
      }
      continue;
    }
    if (items.length > 0 && bytes + trimmed.length > maxBytes) break;
    items.push({ name, id: name.slice(0, -".json".length), text: trimmed });
    bytes += trimmed.length + 1;
  }
  return items;
}

/**
 * Sends the spool in capture order while holding the lock. Returns why it stopped.
 * A refused batch (400/413/422) is split in halves until the refused events are alone;
 * those are moved to `spool/rejected/` and the rest is sent, still in order.
 */
export async function flushSpool(spoolDir: string, target: FlushTarget, options: FlushOptions): Promise<FlushResult> {
  const result: FlushResult = { stop: "empty", accepted: 0, duplicates: 0, rejected: 0, remaining: 0 };
  const done = (stop: FlushStop, message?: string): FlushResult => {
    result.stop = stop;
    result.remaining = listSpool(spoolDir).length;
    if (message !== undefined) result.message = message;
    return result;
  };
  if (target.apiKey === undefined)
    return done("no-key", "no API key: set LOGBOOK_API_KEY or $LOGBOOK_HOME/credentials");
  if (!hasSpooled(spoolDir)) return done("empty");
  const lock = acquireLock(spoolDir);
  if (!lock) return done("locked");
  const maxEvents = Math.min(options.maxBatchEvents ?? MAX_BATCH_EVENTS, MAX_BATCH_EVENTS);
  const maxBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES;
  let batches = 0;
  try {
    for (;;) {
      if (options.maxBatches !== undefined && batches >= options.maxBatches)
        return done(hasSpooled(spoolDir) ? "limit" : "empty");
      const items = nextBatch(spoolDir, maxEvents, maxBytes, options.log);
      if (items.length === 0) return done("empty");
      batches++;
      const stop = await sendInOrder(spoolDir, target, items, options, result);
      if (stop) {
        if (stop.stop === "unavailable") markOffline(spoolDir);
        return done(stop.stop, stop.message);
      }
      clearOffline(spoolDir);
      if (!lock.refresh()) return done("lost-lock", "the flush lock was taken over");
    }
  } finally {
    lock.release();
  }
}

async function sendInOrder(
  spoolDir: string,
  target: FlushTarget,
  items: SpoolItem[],
  options: FlushOptions,
  result: FlushResult,
): Promise<{ stop: FlushStop; message: string } | undefined> {
  const outcome = await sendBatch(target, items, options.timeoutMs);
  switch (outcome.kind) {
    case "ok": {
      result.accepted += outcome.accepted;
      result.duplicates += outcome.duplicates;
      for (const item of items) if (outcome.ids.has(item.id)) safeUnlink(join(spoolDir, item.name));
      if (items.some((item) => !outcome.ids.has(item.id))) {
        return { stop: "unavailable", message: "the server acknowledged only part of a batch" };
      }
      return undefined;
    }
    case "unauthorized":
      return {
        stop: "unauthorized",
        message: `the server refused the API key (HTTP ${outcome.status}): ${outcome.message}`,
      };
    case "unavailable":
      return { stop: "unavailable", message: outcome.message };
    case "refused": {
      if (items.length === 1) {
        const item = items[0]!;
        options.log?.(
          "error",
          `server refused spooled event ${item.id} (HTTP ${outcome.status}: ${outcome.message}): moved to rejected/`,
        );
        try {
          moveToRejected(spoolDir, item.name);
          result.rejected++;
        } catch {
          // gone
        }
        return undefined;
      }
      if (options.bisect === false)
        return { stop: "unavailable", message: `a batch was refused (HTTP ${outcome.status}), left for a full flush` };
      const half = Math.ceil(items.length / 2);
      return (
        (await sendInOrder(spoolDir, target, items.slice(0, half), options, result)) ??
        (await sendInOrder(spoolDir, target, items.slice(half), options, result))
      );
    }
  }
}
