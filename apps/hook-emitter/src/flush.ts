import { readFileSync } from "node:fs";
import { join } from "node:path";

import { EXPECT_CONTINUE_BYTES, httpRequest, NetworkError } from "./http.js";
import { acquireLock } from "./lock.js";
import { clearOffline, hasSpooled, listSpool, markOffline, moveToRejected, safeUnlink } from "./spool.js";

/**
 * The flush: sends the spool in order, in batches, and deletes only the files the server
 * acknowledged. The server stores a batch all-or-nothing and ignores ids it already has, so
 * a batch re-sent after a lost answer is harmless (at-least-once sending, exactly-once storing).
 */

/** Server limits (see the contracts): 1000 events a call; bodies kept well under 4 MB. */
export const MAX_BATCH_EVENTS = 1000;
export const MAX_BATCH_BYTES = 3_500_000;

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
  | { kind: "ok"; ids: Set<string>; accepted: number; duplicates: number; replacedCharacters: number }
  | { kind: "refused"; status: number; message: string }
  | { kind: "unauthorized"; status: number; message: string }
  | { kind: "unavailable"; message: string };

/** What the server said it replaced: "3 characters PostgreSQL cannot hold stored as U+FFFD". */
export function replacedCharactersText(replacedCharacters: number): string {
  const characters = replacedCharacters === 1 ? "1 character" : `${replacedCharacters} characters`;
  return `${characters} PostgreSQL cannot hold stored as U+FFFD`;
}

/** The end of a summary line: what the server replaced, when it replaced anything. */
export function replacedNote(replacedCharacters: number): string {
  return replacedCharacters === 0 ? "" : ` (${replacedCharactersText(replacedCharacters)})`;
}

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
      JSON.parse(response.body) as {
        result?: { data?: { accepted?: unknown; duplicates?: unknown; ids?: unknown; replacedCharacters?: unknown } };
      }
    ).result?.data;
    const accepted = typeof data?.accepted === "number" ? data.accepted : 0;
    const duplicates = typeof data?.duplicates === "number" ? data.duplicates : 0;
    const replacedCharacters = typeof data?.replacedCharacters === "number" ? data.replacedCharacters : 0;
    let ids: Set<string>;
    if (Array.isArray(data?.ids)) ids = new Set(data.ids.filter((id): id is string => typeof id === "string"));
    else if (accepted + duplicates === items.length) ids = new Set(items.map((item) => item.id));
    else return { kind: "unavailable", message: "the server's answer acknowledged no ids" };
    return { kind: "ok", ids, accepted, duplicates, replacedCharacters };
  } catch {
    return { kind: "unavailable", message: `unreadable answer from the server: ${response.body.slice(0, 200)}` };
  }
}

/**
 * Reads the next batch in order. An entry that can never be sent is quarantined in
 * `rejected/` with its reason (`quarantine`), so it neither blocks the spool nor is retried
 * forever: one that cannot be read (no permission, a folder named like an entry), one that is
 * not an envelope (empty, truncated), and one whose id is not the id in its name (the server
 * would acknowledge the other id, and this file would never be deleted).
 */
function nextBatch(
  spoolDir: string,
  maxEvents: number,
  maxBytes: number,
  quarantine: (name: string, reason: string) => void,
): SpoolItem[] {
  const items: SpoolItem[] = [];
  let bytes = 0;
  for (const name of listSpool(spoolDir)) {
    if (items.length >= maxEvents) break;
    const id = name.slice(0, -".json".length);
    let text: string;
    try {
      text = readFileSync(join(spoolDir, name), "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Gone: sent by a flusher that took over our lock, or deleted by a person.
      if (code !== "ENOENT") quarantine(name, `cannot be read (${code ?? (error as Error).message})`);
      continue;
    }
    const trimmed = text.trim();
    if (!trimmed.startsWith('{"id":"') || !trimmed.endsWith("}")) {
      quarantine(name, `not an event envelope (${trimmed.length} bytes)`);
      continue;
    }
    if (!trimmed.startsWith(`{"id":"${id}"`)) {
      quarantine(name, `its id is not the id in its name (${JSON.stringify(trimmed.slice(7, 43))})`);
      continue;
    }
    if (items.length > 0 && bytes + trimmed.length > maxBytes) break;
    items.push({ name, id, text: trimmed });
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
      const items = nextBatch(spoolDir, maxEvents, maxBytes, (name, reason) => {
        if (quarantine(spoolDir, name, reason, options.log)) result.rejected++;
      });
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
      if (outcome.replacedCharacters > 0) {
        // Not an error (the events are stored), but a change to them the user may look for.
        options.log?.("warn", `a batch of ${items.length}: ${replacedCharactersText(outcome.replacedCharacters)}`);
      }
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
      const [item] = items;
      if (item && items.length === 1) {
        const reason = `the server refused it (HTTP ${outcome.status}: ${outcome.message})`;
        if (quarantine(spoolDir, item.name, reason, options.log)) result.rejected++;
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

/** Moves a spool entry to `rejected/` with its reason, and logs it. False when it could not be moved. */
function quarantine(spoolDir: string, name: string, reason: string, log: FlushOptions["log"]): boolean {
  try {
    moveToRejected(spoolDir, name, reason);
    log?.("error", `spool entry ${name}: ${reason}: moved to rejected/`);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT")
      log?.(
        "error",
        `spool entry ${name}: ${reason}, and it could not be moved to rejected/ (${code ?? String(error)})`,
      );
    return false;
  }
}
