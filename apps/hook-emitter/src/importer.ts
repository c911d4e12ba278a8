import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";

import type { IngestEvent } from "@logbook/contracts";

import { httpRequest, NetworkError } from "./http.js";
import { classifyStatus, errorMessageOf, MAX_BATCH_BYTES } from "./flush.js";
import { planImport, transcriptFileOf } from "./transcript.js";
import { checkIngestEvent, LIMITS } from "./wire.js";

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

interface Pending {
  json: string;
  where: string;
}

export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = { files: 0, sessions: 0, events: 0, accepted: 0, duplicates: 0, errors: 0 };
  const sessions = new Set<string>();
  const files = await findTranscriptFiles(options.paths);
  const sizes = await Promise.all(files.map(async (file) => (await stat(file)).size));
  const totalBytes = sizes.reduce((sum, size) => sum + size, 0);
  const batchEvents = Math.min(options.batchEvents ?? 500, LIMITS.maxBatch);
  const timeoutMs = options.requestTimeoutMs ?? 60_000;
  const bar = options.progress ? new ProgressBar(totalBytes, files.length) : undefined;
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

  let pending: Pending[] = [];
  let pendingBytes = 0;
  const send = async (items: Pending[]): Promise<void> => {
    const body = `{"events":[${items.map((item) => item.json).join(",")}]}`;
    let attempt = 0;
    for (;;) {
      let response;
      try {
        response = await httpRequest("POST", `${options.url}/trpc/events.ingest`, {
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${options.apiKey}` },
          body,
          timeoutMs,
        });
      } catch (cause) {
        if (attempt++ < 4) {
          await new Promise((done) => setTimeout(done, 500 * 2 ** attempt));
          continue;
        }
        throw new ImportAborted(
          `server unavailable: ${cause instanceof NetworkError ? cause.message : String(cause)}`,
          summary,
        );
      }
      const kind = classifyStatus(response.status);
      if (kind === "ok") {
        const data = (JSON.parse(response.body) as { result?: { data?: { accepted?: number; duplicates?: number } } })
          .result?.data;
        summary.accepted += data?.accepted ?? 0;
        summary.duplicates += data?.duplicates ?? 0;
        return;
      }
      if (kind === "unauthorized") {
        throw new ImportAborted(
          `the server refused the API key (HTTP ${response.status}): ${errorMessageOf(response.body)}`,
          summary,
        );
      }
      if (kind === "refused") {
        // A batch is stored all-or-nothing: split it to find the lines the server refuses.
        if (items.length === 1) {
          error(items[0]!.where, `refused by the server (HTTP ${response.status}): ${errorMessageOf(response.body)}`);
          return;
        }
        const half = Math.ceil(items.length / 2);
        await send(items.slice(0, half));
        await send(items.slice(half));
        return;
      }
      if (attempt++ < 4) {
        await new Promise((done) => setTimeout(done, 500 * 2 ** attempt));
        continue;
      }
      throw new ImportAborted(`server error (HTTP ${response.status}): ${errorMessageOf(response.body)}`, summary);
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
  try {
    for (const [index, file] of files.entries()) {
      summary.files++;
      bar?.update(doneBytes, index, summary);
      for await (const item of planImport(file, {
        onBytesRead: (bytes) => bar?.update(doneBytes + bytes, index, summary),
      })) {
        const where = `${file}:${item.line}`;
        if (item.kind === "error") {
          error(where, item.message);
          continue;
        }
        const problem = checkIngestEvent(item.event);
        if (problem !== undefined) {
          error(where, `not importable: ${problem}`);
          continue;
        }
        const json = JSON.stringify(item.event satisfies IngestEvent);
        if (pending.length >= batchEvents || (pending.length > 0 && pendingBytes + json.length > MAX_BATCH_BYTES))
          await flush();
        pending.push({ json, where });
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

class ProgressBar {
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly totalBytes: number,
    private readonly totalFiles: number,
  ) {}

  update(bytes: number, fileIndex: number, summary: ImportSummary): void {
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const ratio = this.totalBytes === 0 ? 1 : Math.min(1, bytes / this.totalBytes);
    const width = 24;
    const filled = Math.round(ratio * width);
    const line =
      `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%` +
      `  file ${Math.min(fileIndex + 1, this.totalFiles)}/${this.totalFiles}` +
      `  events ${summary.events}  errors ${summary.errors}`;
    process.stderr.write(`\r${line}\u001b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) process.stderr.write("\r\u001b[K");
    this.drawn = false;
    this.lastDraw = 0;
  }
}
