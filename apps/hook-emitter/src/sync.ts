import { createHash } from "node:crypto";
import { existsSync, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";
import { resolve, sep } from "node:path";

import { MAX_BATCH_BYTES } from "./flush.js";
import { findTranscriptFiles } from "./importer.js";
import { type IngestTarget, type PendingEvent, pendingEventOf, SendStopped, sendEvents } from "./ingest-client.js";
import { fileKey, type FileState, forgetFileState, HEAD_BYTES, loadFileStates, saveFileState } from "./sync-state.js";
import {
  emptyPlannerState,
  type PlanItem,
  type SubagentTypes,
  subagentTypesOf,
  TranscriptPlanner,
  transcriptFileOf,
} from "./transcript.js";
import { LIMITS } from "./wire.js";

/**
 * `logbook-hook sync`: sends what was appended to transcript files since the last time, and
 * remembers how far each file was sent (`sync-state.ts`), so Claude Code's transcripts reach
 * Logbook while they are written, before Claude Code deletes them.
 *
 * - Only complete lines are read: a last line without its newline waits for it.
 * - Each file is planned by the same planner as `import`, resumed from its saved state, so a
 *   line gets the id, session and time `import` gives it: `import` and `sync` of the same file,
 *   in any order and any number of times, store each line once.
 * - The offset moves only after the server has stored the batch: a server that is down or
 *   restarting costs a retry, never a line. A batch sent again after a lost answer stores
 *   nothing twice (the server ignores ids it has).
 * - Truncated (smaller than the offset) or rewritten (its first bytes changed) files are read
 *   again from the start; a renamed file keeps its offset (state is keyed by inode); a new
 *   file at a rotated name starts at 0.
 * - Lines that name no session wait for the first line that does (they belong to it); in a
 *   file quiet for `quietMs` that never names one, they take the file's name, as in `import`.
 * - Memory is bounded by the longest line and one batch, whatever the file's size.
 */

export interface SyncOptions {
  target: IngestTarget;
  syncDir: string;
  /** Report of a malformed or refused line (`file:line: message`). */
  report: (line: string) => void;
  /** Called as bytes are read (progress bar). */
  onProgress?: (progress: { bytes: number; fileIndex: number; events: number; errors: number }) => void;
  /** Tries after the first when the server is unavailable. @default 4 */
  retries?: number;
  retryDelayMs?: number;
  /** A file this long unchanged whose lines name no session gets the file's name. @default 600000 */
  quietMs?: number;
  batchEvents?: number;
  now?: () => number;
}

export interface SyncSummary {
  files: number;
  /** Files that had something new. */
  changed: number;
  events: number;
  accepted: number;
  duplicates: number;
  /** Lines skipped: malformed, or refused by the contract or the server. */
  errors: number;
  bytes: number;
  /** Files read again from the start (truncated or rewritten). */
  restarted: number;
  /** Characters PostgreSQL cannot hold (NUL, lone surrogates) stored as U+FFFD (the server's count). */
  replacedCharacters: number;
}

export const emptySummary = (): SyncSummary => ({
  files: 0,
  changed: 0,
  events: 0,
  accepted: 0,
  duplicates: 0,
  errors: 0,
  bytes: 0,
  restarted: 0,
  replacedCharacters: 0,
});

const READ_CHUNK = 1024 * 1024;

async function headDigest(path: string, length: number): Promise<string> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(Math.min(length, HEAD_BYTES));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return createHash("sha1").update(buffer.subarray(0, bytesRead)).digest("hex");
  } finally {
    await handle.close();
  }
}

/** The files below `roots` that sync follows (transcripts: `*.jsonl`; a root given as a file is taken as is). */
export async function syncedFiles(roots: string[]): Promise<string[]> {
  return findTranscriptFiles(roots.filter((root) => existsSync(root)));
}

/** How many bytes of `path` are not sent yet, by the saved states (status). */
export function bytesBehind(info: Stats, states: Map<string, FileState>): number {
  const state = states.get(fileKey(info.dev, info.ino));
  if (state === undefined || info.size < state.offset) return info.size;
  return info.size - state.offset;
}

/**
 * One pass: every file below `roots`, from its saved offset to its last complete line. Throws
 * `SendStopped` when the server cannot take a batch (what was stored before stays remembered).
 */
export async function syncOnce(
  roots: string[],
  options: SyncOptions,
  summary = emptySummary(),
  states: Map<string, FileState> = loadFileStates(options.syncDir),
): Promise<SyncSummary> {
  const files = await syncedFiles(roots);
  const seen = new Set<string>();
  let doneBytes = 0;
  for (const [index, path] of files.entries()) {
    summary.files++;
    let info: Stats;
    try {
      info = await stat(path);
    } catch {
      continue; // gone meanwhile
    }
    const key = fileKey(info.dev, info.ino);
    seen.add(key);
    const base = doneBytes;
    states.set(
      key,
      await syncFile(path, info, states.get(key), options, summary, (bytes) =>
        options.onProgress?.({ bytes: base + bytes, fileIndex: index, events: summary.events, errors: summary.errors }),
      ),
    );
    doneBytes += info.size;
  }
  // Forget files that are gone from the roots this pass looked at (their lines are stored).
  const under = roots.map((root) => resolve(root));
  for (const [key, state] of states) {
    if (seen.has(key) || existsSync(state.path)) continue;
    if (under.some((root) => state.path === root || state.path.startsWith(root + sep))) {
      forgetFileState(options.syncDir, key);
      states.delete(key);
    }
  }
  return summary;
}

/** The last parent file read for its Task calls: a session's subagent files come one after another. */
let lastParent: { path: string; size: number; mtimeMs: number; types: SubagentTypes } | undefined;

/** `subagentTypesOf(path)`, read again only when the file changed since the last call read it. */
async function parentTypesOf(path: string): Promise<SubagentTypes> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return {};
  const { size, mtimeMs } = info;
  if (lastParent?.path !== path || lastParent.size !== size || lastParent.mtimeMs !== mtimeMs) {
    lastParent = { path, size, mtimeMs, types: await subagentTypesOf(path) };
  }
  return lastParent.types;
}

/**
 * Sends what `path` has past its saved offset. `info` is its stat; `saved` the state kept for
 * its inode, if any.
 */
export async function syncFile(
  path: string,
  info: Stats,
  saved: FileState | undefined,
  options: SyncOptions,
  summary: SyncSummary,
  onBytes?: (bytes: number) => void,
): Promise<FileState> {
  const now = options.now ?? Date.now;
  const fresh = (): FileState => ({
    path,
    dev: info.dev,
    ino: info.ino,
    offset: 0,
    line: 0,
    head: "",
    planner: emptyPlannerState(),
    updatedAt: new Date(now()).toISOString(),
  });
  let state = saved === undefined ? fresh() : { ...saved, path };
  if (state.offset > 0) {
    // Truncated, or rewritten in place: read it again from the start (ids make that harmless).
    if (info.size < state.offset || (await headDigest(path, state.offset)) !== state.head) {
      state = fresh();
      summary.restarted++;
    }
  }
  const quiet = now() - info.mtimeMs >= (options.quietMs ?? 600_000);
  if (info.size === state.offset) {
    if (saved !== undefined && saved.path !== path) saveFileState(options.syncDir, state); // renamed
    onBytes?.(info.size);
    return state;
  }

  const file = transcriptFileOf(path);
  // A subagent file read from its start needs its parent's Task calls for its type; resumed
  // further on, its type is decided already (or was never kept, by an older version).
  const parentSubagentTypes =
    file.parentPath !== undefined && state.line === 0 ? await parentTypesOf(file.parentPath) : undefined;
  const planner = new TranscriptPlanner(file, {
    holdUntilSession: true,
    state: structuredClone(state.planner),
    ...(parentSubagentTypes !== undefined ? { parentSubagentTypes } : {}),
  });
  const batchEvents = Math.min(options.batchEvents ?? 500, LIMITS.maxBatch);
  let batch: PendingEvent[] = [];
  let batchBytes = 0;
  let lineNo = state.line;
  /** Where the lines fed so far end. */
  let fedOffset = state.offset;
  let changed = false;

  const report = (where: string, message: string) => {
    summary.errors++;
    options.report(`${where}: ${message}`);
  };
  const send = async (): Promise<void> => {
    const items = batch;
    batch = [];
    batchBytes = 0;
    await sendEvents(
      options.target,
      items,
      {
        onRefused: report,
        ...(options.retries !== undefined ? { retries: options.retries } : {}),
        ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
      },
      summary,
    );
  };
  /** Sends what is batched, then moves the offset to the end of the lines fed so far. */
  const commit = async (): Promise<void> => {
    if (batch.length > 0) await send();
    // Lines waiting for a session or a time were sent nothing yet: the offset stays before them.
    if (planner.holding || fedOffset === state.offset) return;
    state = {
      ...state,
      offset: fedOffset,
      line: lineNo,
      head: await headDigest(path, fedOffset),
      planner: planner.snapshot(),
      updatedAt: new Date(now()).toISOString(),
    };
    saveFileState(options.syncDir, state);
  };
  const take = async (items: PlanItem[]): Promise<void> => {
    for (const item of items) {
      const event = pendingEventOf(path, item, report);
      if (event === undefined) continue;
      // A full batch is sent at once; the offset moves only at the end of a line (commit).
      if (batch.length >= batchEvents || (batch.length > 0 && batchBytes + event.json.length > MAX_BATCH_BYTES))
        await send();
      batch.push(event);
      batchBytes += event.json.length + 1;
      summary.events++;
    }
  };

  const handle = await open(path, "r");
  try {
    let position = state.offset;
    let carry: Buffer[] = [];
    let carryBytes = 0;
    const chunk = Buffer.alloc(READ_CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      position += bytesRead;
      let start = 0;
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        const piece = data.subarray(start, nl);
        const lineBytes = carryBytes + piece.length + 1;
        const text = carry.length > 0 ? Buffer.concat([...carry, piece]).toString("utf8") : piece.toString("utf8");
        carry = [];
        carryBytes = 0;
        start = nl + 1;
        lineNo++;
        fedOffset += lineBytes;
        changed = true;
        summary.bytes += lineBytes;
        await take(planner.feed(text, lineNo));
        if (batch.length >= batchEvents && !planner.holding) await commit();
      }
      if (start < data.length) {
        // The part of a line after the last newline: copied, the chunk buffer is reused.
        carry.push(Buffer.from(data.subarray(start)));
        carryBytes += data.length - start;
      }
      onBytes?.(fedOffset);
    }
    if (planner.holding && quiet) {
      // Long quiet and still no line names a session (or a time): as `import` would plan the file.
      await take(planner.finish());
    }
    await commit();
  } finally {
    await handle.close();
  }
  if (changed) summary.changed++;
  return state;
}

export { SendStopped };
