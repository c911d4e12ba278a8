import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";

import { MAX_BATCH_BYTES } from "./flush.js";
import { type PendingEvent, pendingEventOf, SendStopped, sendEvents } from "./ingest-client.js";
import { ByteProgress } from "./progress.js";
import { planImport, type SubagentTypes, subagentTypesOf, transcriptFileOf } from "./transcript.js";
import { LIMITS } from "./wire.js";

/**
 * `logbook-hook import`: every line of every transcript file becomes an event sent to
 * `events.ingest`, in batches. The server derives messages, token usage, titles and models
 * from these events and ignores ids it already has, so an import can be re-run at will.
 */

export interface ImportSummary {
  files: number;
  sessions: number;
  events: number;
  accepted: number;
  duplicates: number;
  /** Lines skipped: malformed, or refused by the contract or the server. */
  errors: number;
  /** Characters PostgreSQL cannot hold (NUL, lone surrogates) stored as U+FFFD (the server's count). */
  replacedCharacters: number;
}

export interface ImportOptions {
  url: string;
  apiKey: string;
  paths: string[];
  /** Draw a progress bar on stderr (a terminal). */
  progress: boolean;
  /** Where error lines go (stderr). */
  report: (line: string) => void;
  batchEvents?: number;
  requestTimeoutMs?: number;
}

/** The import cannot go on: bad key, server gone after retries. */
export class ImportAborted extends Error {
  constructor(
    message: string,
    readonly summary: ImportSummary,
  ) {
    super(message);
    this.name = "ImportAborted";
  }
}

/** Transcript files under the given paths, sorted, every session's own file before its subagents'. */
export async function findTranscriptFiles(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await stat(path);
    if (info.isFile()) {
      found.push(path);
      return;
    }
    if (!info.isDirectory()) return;
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile() && entry.name.endsWith(".jsonl")) found.push(child);
    }
  };
  for (const path of paths) await walk(resolve(path));
  const unique = [...new Set(found)].sort();
  const isSubagent = (path: string) => transcriptFileOf(path).agentId !== undefined;
  return [...unique.filter((path) => !isSubagent(path)), ...unique.filter(isSubagent)];
}

export const emptyImportSummary = (): ImportSummary => ({
  files: 0,
  sessions: 0,
  events: 0,
  accepted: 0,
  duplicates: 0,
  errors: 0,
  replacedCharacters: 0,
});

export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const summary = emptyImportSummary();
  const sessions = new Set<string>();
  const files = await findTranscriptFiles(options.paths);
  const sizes = await Promise.all(files.map(async (file) => (await stat(file)).size));
  const totalBytes = sizes.reduce((sum, size) => sum + size, 0);
  const batchEvents = Math.min(options.batchEvents ?? 500, LIMITS.maxBatch);
  const timeoutMs = options.requestTimeoutMs ?? 60_000;
  const bar = options.progress ? new ByteProgress(totalBytes, files.length) : undefined;
  let printedErrors = 0;
  const error = (where: string, message: string) => {
    summary.errors++;
    if (printedErrors < 100) {
      bar?.clear();
      options.report(`${where}: ${message}`);
    } else if (printedErrors === 100) {
      bar?.clear();
      options.report("(more errors not shown)");
    }
    printedErrors++;
  };

  let pending: PendingEvent[] = [];
  let pendingBytes = 0;
  const target = { url: options.url, apiKey: options.apiKey, timeoutMs };
  const send = async (items: PendingEvent[]): Promise<void> => {
    try {
      await sendEvents(target, items, { onRefused: error }, summary);
    } catch (cause) {
      if (cause instanceof SendStopped) throw new ImportAborted(cause.message, summary);
      throw cause;
    }
  };
  const flush = async () => {
    if (pending.length === 0) return;
    const items = pending;
    pending = [];
    pendingBytes = 0;
    await send(items);
  };

  let doneBytes = 0;
  // Subagent files come sorted by session folder: the parent's Task calls are read once for all.
  let parentTypes: { path: string; types: SubagentTypes } | undefined;
  try {
    for (const [index, file] of files.entries()) {
      summary.files++;
      bar?.update(doneBytes, index, summary);
      const { parentPath } = transcriptFileOf(file);
      if (parentPath !== undefined && parentTypes?.path !== parentPath) {
        parentTypes = { path: parentPath, types: await subagentTypesOf(parentPath) };
      }
      for await (const item of planImport(file, {
        onBytesRead: (bytes) => bar?.update(doneBytes + bytes, index, summary),
        ...(parentPath !== undefined && parentTypes !== undefined ? { parentSubagentTypes: parentTypes.types } : {}),
      })) {
        const event = pendingEventOf(file, item, error);
        if (event === undefined || item.kind !== "event") continue;
        const { json } = event;
        if (pending.length >= batchEvents || (pending.length > 0 && pendingBytes + json.length > MAX_BATCH_BYTES))
          await flush();
        pending.push(event);
        pendingBytes += json.length + 1;
        summary.events++;
        sessions.add(item.event.externalSessionId ?? "");
        summary.sessions = sessions.size;
      }
      doneBytes += sizes[index] ?? 0;
    }
    await flush();
  } finally {
    bar?.clear();
  }
  summary.sessions = sessions.size;
  return summary;
}
