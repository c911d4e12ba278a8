import type { AppRouter } from "@logbook/api";
import type { Event, ExportFormat, HookEnvelope, IngestEvent, IngestResult } from "@logbook/contracts";
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  retryLink,
  splitLink,
  type Operation,
  type TRPCClient,
  type TRPCClientError,
  type TRPCLink,
} from "@trpc/client";
import { observable } from "@trpc/server/observable";
import { EventSource as EventSourcePolyfill, type EventSourceInit, type FetchLike } from "eventsource";
import { v7 as uuidv7 } from "uuid";

import { errorFromPlainResponse, LogbookError, refusalNotFromApi } from "./errors.js";

/** Events per `events.ingest` call; the server's contract (`LIMITS.maxBatch`) refuses more. */
export const MAX_INGEST_BATCH = 1000;

/** Retry with exponential backoff (and jitter) for transient failures. */
export interface RetryOptions {
  /**
   * How many times a failed call is tried again (so at most `attempts + 1` tries).
   * Subscriptions are not limited: they reconnect for as long as they are open.
   * @default 3
   */
  attempts: number;
  /** Delay before the first retry; it doubles on each further one. @default 200 */
  baseDelayMs: number;
  /** Upper bound of any one delay. @default 5000 */
  maxDelayMs: number;
}

/** An `EventSource` class: the `eventsource` package's, or any with the same constructor. */
export type EventSourceConstructor = new (
  url: string,
  init?: EventSourceInit,
) => {
  readonly CLOSED: number;
  readonly CONNECTING: number;
  readonly OPEN: number;
  readyState: number;
  addEventListener(type: string, listener: (event: never) => void): void;
  removeEventListener(type: string, listener: (event: never) => void): void;
  close(): void;
};

export interface LogbookClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:4680` (the client adds `/trpc`). */
  url: string;
  /** An API key, sent as `Authorization: Bearer <key>` with every call and subscription. */
  apiKey: string;
  /**
   * The `fetch` used for calls and subscriptions (tests, proxies, custom agents).
   * @default globalThis.fetch
   */
  fetch?: typeof fetch | undefined;
  /**
   * The `EventSource` class subscriptions use. It must accept a `fetch` option (the way the
   * API key header is sent), as the `eventsource` package's does; a browser's built-in
   * EventSource cannot send headers.
   * @default the `eventsource` package's EventSource (Node 20 has none built in; works in browsers too)
   */
  EventSource?: EventSourceConstructor | undefined;
  /**
   * Retries for queries and idempotent mutations that failed without an answer or with
   * 502/503/504. `false` turns retries off.
   * @default { attempts: 3, baseDelayMs: 200, maxDelayMs: 5000 }
   */
  retry?: Partial<RetryOptions> | false | undefined;
  /** More headers for every request (tracing, a proxy's auth). `Authorization` is always the API key. @default {} */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>) | undefined;
  /** Send calls made in the same tick as one HTTP request. @default true */
  batch?: boolean | undefined;
}

/**
 * Mutations that are safe to send twice: ingest is idempotent by event id (the client
 * fills missing ids before the first try), upserts and settings land the same way again.
 */
export const IDEMPOTENT_MUTATIONS: ReadonlySet<string> = new Set([
  "events.ingest",
  "hooks.ingest",
  "files.upsert",
  "projects.upsert",
  "sessions.update",
  "sessions.setArchived",
  "apiKeys.revoke",
  "projects.locks.release",
]);

/** The server's default MAX_BATCH_CALLS: a same-tick burst is split into batches this size. */
export const MAX_BATCH_CALLS = 50;
const INGEST_PATHS: ReadonlySet<string> = new Set(["events.ingest", "hooks.ingest"]);

const DEFAULT_RETRY: RetryOptions = { attempts: 3, baseDelayMs: 200, maxDelayMs: 5000 };

/** Exponential backoff with jitter: `base * 2^(n-1)`, capped, then scaled by 50–100 %. */
export function backoffDelay(attempt: number, retry: RetryOptions, random: () => number = Math.random): number {
  const exponential = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}

/**
 * Gives every event without an id one (UUIDv7) and a time before the first try, so a retry
 * stores nothing twice. An event that has its own id keeps its time as given, none included:
 * the server dates it by the id (a UUIDv7) or finds it stored before by the id, so sending
 * it again later, in another call, stores it once. Stamping the time of each call would make
 * each such resend another event.
 */
export function withEventIds<T extends IngestEvent | HookEnvelope>(
  events: readonly T[],
  now: () => Date = () => new Date(),
): T[] {
  return events.map((e) =>
    e.id === undefined ? { ...e, id: uuidv7(), occurredAt: e.occurredAt ?? now().toISOString() } : e,
  );
}

/** Fills ids on ingest calls however they are made (helper or raw procedure), before any retry. */
function idempotencyLink(): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) => {
      const input = op.input as { events?: unknown } | undefined;
      if (op.type !== "mutation" || !Array.isArray(input?.events)) return next(op);
      if (op.path === "events.ingest")
        return next({ ...op, input: { ...input, events: withEventIds(input.events as IngestEvent[]) } });
      if (op.path === "hooks.ingest")
        return next({ ...op, input: { ...input, events: withEventIds(input.events as HookEnvelope[]) } });
      return next(op);
    };
}

/** Every failure reaches the caller as a `LogbookError` (which is a `TRPCClientError`). */
function errorLink(): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) =>
        next(op).subscribe({
          next: (value) => observer.next(value),
          error: (error) => observer.error(LogbookError.from(error)),
          complete: () => observer.complete(),
        }),
      );
}

function shouldRetry(op: Operation, error: TRPCClientError<AppRouter>, attempts: number, retry: RetryOptions): boolean {
  if (op.signal?.aborted) return false;
  const failure = LogbookError.from(error);
  if (!failure.transient || failure.code === "CLIENT_CLOSED_REQUEST") return false;
  if (op.type === "subscription") return true;
  if (op.type === "mutation" && !IDEMPOTENT_MUTATIONS.has(op.path)) return false;
  return attempts <= retry.attempts;
}

/** The helpers `createLogbookClient` adds next to the procedures. */
export interface LogbookHelpers {
  /**
   * Ingests any number of events: gives each an id and a time first (so retries are
   * safe), sends them in batches of 1000, in order, and adds up the results.
   */
  ingest: (events: readonly IngestEvent[], options?: { signal?: AbortSignal | undefined }) => Promise<IngestResult>;
  /**
   * Follows one session's new events live. Pass the `lastEventId` you saw last to resume
   * after it (events in between are replayed first); reconnects resume on their own.
   */
  followSession: (sessionId: string, options: FollowSessionOptions) => Following;
  /**
   * A session with its subagents as a file, streamed (`GET /export/sessions/<id>`): any size,
   * where `sessions.export` answers up to 16 MiB in one value. Refusals (unknown session,
   * missing scope) throw a `LogbookError` before any of the file is read.
   */
  downloadExport: (
    input: { id: string; format: ExportFormat },
    options?: { signal?: AbortSignal | undefined },
  ) => Promise<ExportDownload>;
}

/** An export being downloaded: its name and counts from the answer's headers, the file as a stream. */
export interface ExportDownload {
  /** A file name to save it under: `<external id or id>.<format>`, safe on every system. */
  fileName: string;
  mediaType: string;
  /** The session and its subagents. */
  sessions: number;
  /** Events in the file (for `jsonl`: transcript lines). */
  events: number;
  /** The file's bytes. A download cut short errors the stream; it never just ends. */
  body: ReadableStream<Uint8Array>;
}

export interface FollowSessionOptions {
  /** Called for each event, in order, with its resume id. */
  onEvent: (event: Event, eventId: string) => void;
  /** Resume right after this event id. @default null (only events from now on) */
  lastEventId?: string | null | undefined;
  /** The subscription ended with an error it could not recover from (e.g. the key was revoked). */
  onError?: ((error: LogbookError) => void) | undefined;
  /** The stream is connected (again). */
  onStarted?: (() => void) | undefined;
}

export interface Following {
  /** The id of the last event delivered (pass it as `lastEventId` to resume later). */
  readonly lastEventId: string | null;
  unsubscribe(): void;
}

export type LogbookClient = TRPCClient<AppRouter> & LogbookHelpers;

/** The `fetch` tRPC's HTTP links take. */
type LinkFetch = NonNullable<Parameters<typeof httpLink>[0]["fetch"]>;
/** Its first parameter, as `fetch` types it (tRPC names the DOM's `RequestInfo`, absent in Node's types). */
type FetchInput = Parameters<typeof fetch>[0];

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

/**
 * A typed client for a Logbook server: every procedure of the API with its input and
 * output types (`logbook.sessions.get.query({ id })`), plus `ingest` and `followSession`.
 *
 * @example
 * ```ts
 * const logbook = createLogbookClient({ url: "http://127.0.0.1:4680", apiKey });
 * await logbook.ingest([{ externalSessionId: "abc", eventType: "note", message: "hi" }]);
 * const page = await logbook.sessions.list.query({ status: ["active"] });
 * ```
 */
export function createLogbookClient(options: LogbookClientOptions): LogbookClient {
  const url = `${trimSlash(options.url)}/trpc`;
  const retry: RetryOptions | null = options.retry === false ? null : { ...DEFAULT_RETRY, ...options.retry };
  const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const authorization = `Bearer ${options.apiKey}`;
  const extraHeaders = async (): Promise<Record<string, string>> =>
    typeof options.headers === "function" ? await options.headers() : (options.headers ?? {});
  const headers = async () => ({ ...(await extraHeaders()), Authorization: authorization });

  // Subscriptions send the key through the EventSource's fetch (EventSource has no headers option).
  const eventSourceFetch: FetchLike = async (input, init) =>
    fetchImpl(input, {
      ...init,
      headers: { ...init.headers, ...(await extraHeaders()), Authorization: authorization },
    });

  // tRPC's links call fetch with `signal: undefined` when there is none; with
  // `exactOptionalPropertyTypes` that is not a RequestInit, so the key is dropped instead.
  // A refusal that is not a tRPC answer becomes its LogbookError here, before tRPC reads it
  // (see refusalNotFromApi); tRPC passes an error of its own kind on as it is.
  const linkFetch: LinkFetch = async (input: FetchInput, init) => {
    let response: Response;
    if (init === undefined) response = await fetchImpl(input);
    else {
      const { signal, ...rest } = init;
      response = await fetchImpl(input, signal === undefined ? rest : { ...rest, signal });
    }
    const refusal = await refusalNotFromApi(response);
    if (refusal) throw refusal;
    return response;
  };
  const singleLink = httpLink({ url, headers, fetch: linkFetch });
  // Ingest calls go alone (each carries up to 1,000 events; the server caps the events of
  // one batch at MAX_BATCH_EVENTS), the rest in batches no larger than the server's default
  // MAX_BATCH_CALLS.
  const requestLink =
    options.batch === false
      ? singleLink
      : splitLink({
          condition: (op) => INGEST_PATHS.has(op.path),
          true: singleLink,
          false: httpBatchLink({ url, headers, fetch: linkFetch, maxItems: MAX_BATCH_CALLS }),
        });
  const links: Array<TRPCLink<AppRouter>> = [errorLink(), idempotencyLink()];
  if (retry) {
    links.push(
      retryLink({
        retry: ({ op, error, attempts }) => shouldRetry(op, error, attempts, retry),
        retryDelayMs: (attempt) => backoffDelay(attempt, retry),
      }),
    );
  }
  links.push(
    splitLink({
      condition: (op) => op.type === "subscription",
      true: httpSubscriptionLink({
        url,
        EventSource: options.EventSource ?? EventSourcePolyfill,
        eventSourceOptions: () => ({ fetch: eventSourceFetch }),
      }),
      false: requestLink,
    }),
  );
  const trpc = createTRPCClient<AppRouter>({ links });

  const helpers: LogbookHelpers = {
    async downloadExport(input, downloadOptions) {
      const route = "GET /export/sessions/:id";
      const target = `${trimSlash(options.url)}/export/sessions/${encodeURIComponent(input.id)}?format=${encodeURIComponent(input.format)}`;
      let response: Response;
      try {
        response = await fetchImpl(target, {
          headers: { ...(await extraHeaders()), Authorization: authorization },
          ...(downloadOptions?.signal ? { signal: downloadOptions.signal } : {}),
        });
      } catch (error) {
        throw LogbookError.from(error);
      }
      if (!response.ok || !response.body) throw await errorFromPlainResponse(response, route);
      const fileName = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1];
      return {
        fileName: fileName ?? `${input.id}.${input.format}`,
        mediaType: response.headers.get("content-type") ?? "application/octet-stream",
        sessions: Number(response.headers.get("x-logbook-sessions") ?? 0),
        events: Number(response.headers.get("x-logbook-events") ?? 0),
        body: response.body,
      };
    },

    async ingest(events, ingestOptions) {
      const prepared = withEventIds(events);
      const total: IngestResult = { accepted: 0, duplicates: 0, ids: [], replacedCharacters: 0 };
      for (let start = 0; start < prepared.length; start += MAX_INGEST_BATCH) {
        const batch = prepared.slice(start, start + MAX_INGEST_BATCH);
        const result = await trpc.events.ingest.mutate(
          { events: batch },
          ingestOptions?.signal ? { signal: ingestOptions.signal } : {},
        );
        total.accepted += result.accepted;
        total.duplicates += result.duplicates;
        total.ids.push(...result.ids);
        total.replacedCharacters += result.replacedCharacters;
      }
      return total;
    },

    followSession(sessionId, follow) {
      let lastEventId = follow.lastEventId ?? null;
      const subscription = trpc.events.onEvent.subscribe(
        { sessionId, lastEventId },
        {
          onStarted: () => follow.onStarted?.(),
          onData: (tracked) => {
            lastEventId = tracked.id;
            follow.onEvent(tracked.data, tracked.id);
          },
          onError: (error) => follow.onError?.(LogbookError.from(error)),
        },
      );
      return {
        get lastEventId() {
          return lastEventId;
        },
        unsubscribe: () => subscription.unsubscribe(),
      };
    },
  };

  // The tRPC client is a proxy that answers every property with a procedure path, so the
  // helpers are layered on top instead of being assigned to it.
  return new Proxy(trpc, {
    get(target, property, receiver) {
      if (typeof property === "string" && Object.hasOwn(helpers, property))
        return helpers[property as keyof LogbookHelpers];
      return Reflect.get(target, property, receiver) as unknown;
    },
  }) as LogbookClient;
}
