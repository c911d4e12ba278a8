import { classifyStatus, errorMessageOf } from "./flush.js";
import { httpRequest, NetworkError } from "./http.js";
import type { PlanItem, PlannedEvent } from "./transcript.js";
import { checkIngestEvent } from "./wire.js";

/**
 * Sending planned transcript events to `events.ingest`, for `import` and `sync`. The server
 * stores a batch all-or-nothing and ignores ids it has, so a batch sent again after a lost
 * answer stores nothing twice; a batch it refuses is split until the refused lines are alone.
 */

export interface IngestTarget {
  url: string;
  apiKey: string;
  /** Per-request budget. */
  timeoutMs: number;
}

/** One event as JSON, and where it came from (`file:line`) for the reports. */
export interface PendingEvent {
  json: string;
  where: string;
}

/**
 * A planned line as it is sent (`import` and `sync` alike), or undefined after reporting why
 * it is not: a malformed line, or an event the contract would refuse.
 */
export function pendingEventOf(
  path: string,
  item: PlanItem,
  report: (where: string, message: string) => void,
): PendingEvent | undefined {
  const where = `${path}:${item.line}`;
  if (item.kind === "error") {
    report(where, item.message);
    return undefined;
  }
  const problem = checkIngestEvent(item.event);
  if (problem !== undefined) {
    report(where, `not importable: ${problem}`);
    return undefined;
  }
  return { json: eventJson(item), where };
}

/** The event as JSON with its payload spliced in as the file wrote it (see `PlannedEvent`). */
function eventJson({ event, payloadText }: PlannedEvent): string {
  const { payload: _payload, ...rest } = event;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? "," : ""}"payload":${payloadText}}`;
}

export interface SendCounts {
  accepted: number;
  duplicates: number;
  /** Characters PostgreSQL cannot hold (NUL, lone surrogates) the stored events carry as U+FFFD. */
  replacedCharacters: number;
}

/** The batch could not be sent: the key was refused, or the server stayed away through the retries. */
export class SendStopped extends Error {
  constructor(
    message: string,
    readonly reason: "unauthorized" | "unavailable",
  ) {
    super(message);
    this.name = "SendStopped";
  }
}

export interface SendOptions {
  /** Tries after the first for a network failure or a 5xx. @default 4 */
  retries?: number;
  /** First wait between tries, doubling. @default 1000 */
  retryDelayMs?: number;
  /** A line the server refused (never sent again). */
  onRefused: (where: string, message: string) => void;
}

/** Sends the batch; resolves once every event is stored, known, or refused (reported). */
export async function sendEvents(
  target: IngestTarget,
  items: PendingEvent[],
  options: SendOptions,
  counts: SendCounts = { accepted: 0, duplicates: 0, replacedCharacters: 0 },
): Promise<SendCounts> {
  if (items.length === 0) return counts;
  const body = `{"events":[${items.map((item) => item.json).join(",")}]}`;
  const retries = options.retries ?? 4;
  const delay = options.retryDelayMs ?? 1_000;
  for (let attempt = 0; ; attempt++) {
    const retryOr = async (message: string): Promise<void> => {
      if (attempt >= retries) throw new SendStopped(message, "unavailable");
      await new Promise((done) => setTimeout(done, delay * 2 ** attempt));
    };
    let response;
    try {
      response = await httpRequest("POST", `${target.url}/trpc/events.ingest`, {
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${target.apiKey}` },
        body,
        timeoutMs: target.timeoutMs,
      });
    } catch (cause) {
      await retryOr(`server unavailable: ${cause instanceof NetworkError ? cause.message : String(cause)}`);
      continue;
    }
    const kind = classifyStatus(response.status);
    if (kind === "ok") {
      const data = (
        JSON.parse(response.body) as {
          result?: { data?: { accepted?: number; duplicates?: number; replacedCharacters?: number } };
        }
      ).result?.data;
      counts.accepted += data?.accepted ?? 0;
      counts.duplicates += data?.duplicates ?? 0;
      counts.replacedCharacters += data?.replacedCharacters ?? 0;
      return counts;
    }
    if (kind === "unauthorized") {
      throw new SendStopped(
        `the server refused the API key (HTTP ${response.status}): ${errorMessageOf(response.body)}`,
        "unauthorized",
      );
    }
    if (kind === "refused") {
      const [only] = items;
      if (only && items.length === 1) {
        options.onRefused(
          only.where,
          `refused by the server (HTTP ${response.status}): ${errorMessageOf(response.body)}`,
        );
        return counts;
      }
      const half = Math.ceil(items.length / 2);
      await sendEvents(target, items.slice(0, half), options, counts);
      await sendEvents(target, items.slice(half), options, counts);
      return counts;
    }
    await retryOr(`server error (HTTP ${response.status}): ${errorMessageOf(response.body)}`);
  }
}
