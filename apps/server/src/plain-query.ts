/**
 * Plain tRPC queries (`GET /trpc/<path>?input=…`, one call, from a key verified a moment ago)
 * answered without tRPC's HTTP adapter, with the adapter's answer.
 *
 * Why (issue 15): the standalone adapter turns every Node request into a fetch `Request`
 * (URL, `Headers`, `AbortController`) and pipes a fetch `Response` through web streams into
 * the socket as a chunked body: 60% of the server's CPU for `auth.whoami`. What a query
 * costs besides (context, middlewares, input and output checks) is the same call here,
 * through tRPC's own `callTRPCProcedure`.
 *
 * Two rules keep it honest:
 * - `claimPlainQuery` decides BEFORE anything runs whether a request is ours; everything
 *   else (batches, streams, mutations, unknown paths, input that is not JSON, a key that is
 *   missing, wrong or not in the cache, a dashboard cookie) goes whole to the adapter, so
 *   no auth failure is counted here and none twice.
 * - Once claimed, the procedure runs once and every outcome is answered here, errors too,
 *   as the adapter answers it (tRPC 11's `resolveResponse` for a non-batched query): the
 *   same status, error shape (tRPC's `getTRPCErrorShape` with the router's formatter),
 *   transformer, `vary`/`content-type` headers, `onError` and `responseMeta` calls. The
 *   earlier version (0c7d8c5, reverted) fell back to the adapter on failure and so ran a
 *   failing query twice: every wait on a dead database doubled.
 * The one visible difference is the framing: a `content-length` instead of a chunked body.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

import {
  appRouter,
  rememberedKeyContext,
  type ApiDeps,
  type AppRouter,
  type Context,
  type LogbookErrorShape,
} from "@logbook/api";
import { stringifyJson } from "@logbook/contracts";
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  transformTRPCResponse,
  TRPCError,
  type AnyTRPCProcedure,
} from "@trpc/server";
import { createURL } from "@trpc/server/adapters/node-http";
import { getHTTPStatusCode, type HTTPErrorHandler, type ResponseMetaFn, type TRPCRequestInfo } from "@trpc/server/http";

/** What the server hands the adapter too, so both call the same functions. */
export interface PlainQueryOptions {
  onError: HTTPErrorHandler<AppRouter, IncomingMessage>;
  responseMeta: ResponseMetaFn<AppRouter>;
}

/** A request `claimPlainQuery` took: everything needed to run it, nothing run yet. */
export interface PlainQuery {
  path: string;
  procedure: AnyTRPCProcedure;
  /** The input as the adapter would read it (parsed, deserialised); undefined when none was sent. */
  input: unknown;
  ctx: Context;
  url: URL;
}

const PREFIX = "/trpc/";
type RootTypes = AppRouter["_def"]["_config"]["$types"];
const config = appRouter._def._config;
// Why a cast: tRPC types `_def.procedures` as the nested record of routers, but at run time it
// holds every procedure by its full dotted path (what tRPC's own path lookup reads).
const procedures = appRouter._def.procedures as unknown as Record<string, AnyTRPCProcedure | undefined>;

/**
 * The plain query `req` is, or null to leave it to the adapter. Reads nothing and records
 * nothing (no database, no auth throttle): null leaves no trace.
 */
export function claimPlainQuery(deps: ApiDeps, req: IncomingMessage): PlainQuery | null {
  if (req.method !== "GET") return null;
  let url: URL;
  try {
    // The adapter's own URL of the request (its Host header included: one it cannot parse is its 400).
    url = createURL(req);
  } catch {
    return null;
  }
  // Batches, streams (`trpc-accept`, or an `accept` asking for jsonl, which the adapter refuses
  // unbatched), subscriptions' connection params, and bodies typed other than JSON (the
  // adapter's form-data and octet-stream handlers refuse a GET): the adapter's.
  const { headers } = req;
  if (headers["trpc-accept"] !== undefined || headers.accept?.includes("application/jsonl")) return null;
  if (headers["content-type"] !== undefined && !isJson(headers["content-type"])) return null;
  const { searchParams } = url;
  if (searchParams.has("batch") || searchParams.has("connectionParams")) return null;
  const path = procedurePath(url.pathname);
  if (path === null || !Object.hasOwn(procedures, path)) return null;
  const procedure = procedures[path];
  if (!procedure || procedure._def.type !== "query") return null;

  const keyContext = rememberedKeyContext(deps, headers.authorization);
  if (!keyContext) return null;
  // Answers here are written by `stringifyJson`: stored JSON may stay text (`respond`).
  const ctx: Context = { ...keyContext, writesJsonText: true };

  // As the adapter reads it: an empty `input` is none; JSON that does not parse is its 400.
  const raw = searchParams.get("input");
  let input: unknown = undefined;
  if (raw) {
    try {
      input = config.transformer.input.deserialize(JSON.parse(raw));
    } catch {
      return null;
    }
  }
  return { path, procedure, input, ctx, url };
}

/**
 * Runs a claimed query once and answers it, success or error, as the adapter would. Never
 * rejects: what could still fail after the call (the error formatter, serialising the
 * answer) is answered like the adapter's last resort.
 */
export async function answerPlainQuery(
  options: PlainQueryOptions,
  query: PlainQuery,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { path, ctx } = query;
  const signal = abortOnClientGone(req, res);
  let inputRead = false;
  const getRawInput = () => {
    inputRead = true;
    return Promise.resolve(query.input);
  };
  const info: TRPCRequestInfo = {
    isBatchCall: false,
    accept: null,
    type: "query",
    calls: [
      {
        path,
        procedure: query.procedure,
        batchIndex: 0,
        getRawInput,
        // The adapter's `call.result()`: the input once the procedure has read it.
        result: () => (inputRead ? query.input : undefined),
      },
    ],
    connectionParams: null,
    signal,
    url: query.url,
  };

  let answer: Answer;
  try {
    answer = await run(options, info, ctx, req, signal);
  } catch (cause) {
    // The adapter's outer catch (`caughtErrorToData`): a stream-like result, or an answer
    // that did not serialise. Reported without path or input, as there.
    try {
      const error = getTRPCErrorFromUnknown(cause);
      options.onError({ error, path: undefined, input: undefined, ctx, type: "query", req });
      answer = respond(options, info, ctx, error, {
        error: errorShape({ error, type: "query", path: undefined, input: undefined, ctx }),
      });
    } catch (lastCause) {
      answer = lastResort(options, lastCause, req);
    }
  }
  // A client that went away gets nothing written: the adapter pipes its body with the
  // request's (aborted) signal and only ends the response.
  if (signal.aborted) {
    res.end();
    return;
  }
  res.statusCode = answer.status;
  for (const [name, value] of answer.headers) res.appendHeader(name, value);
  // Encoded once: a string body would be measured (`byteLength`) and then encoded again.
  const body = Buffer.from(answer.body);
  res.setHeader("content-length", body.length);
  res.end(body);
}

interface Answer {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

type CallResult = { result: { data: unknown } } | { error: LogbookErrorShape };

/** tRPC's error shape (a procedure's own `.errors()` shape, else the router's formatter), typed as ours. */
function errorShape(opts: Omit<Parameters<typeof getTRPCErrorShape<RootTypes>>[0], "config">): LogbookErrorShape {
  return getTRPCErrorShape<RootTypes>({ config, ...opts });
}

async function run(
  options: PlainQueryOptions,
  info: TRPCRequestInfo,
  ctx: Context,
  req: IncomingMessage,
  signal: AbortSignal,
): Promise<Answer> {
  const [call] = info.calls;
  const path = call?.path ?? "";
  let data: unknown;
  try {
    data = await callTRPCProcedure({
      router: appRouter,
      path,
      type: "query",
      ctx,
      getRawInput: call?.getRawInput ?? (() => Promise.resolve(undefined)),
      signal,
      batchIndex: 0,
    });
  } catch (cause) {
    const error = getTRPCErrorFromUnknown(cause);
    const input = call?.result();
    options.onError({ error, path, input, ctx, type: "query", req });
    return respond(options, info, ctx, error, {
      error: errorShape({ error, type: "query", path, input, ctx }),
    });
  }
  if (isDataStream(data)) {
    throw new TRPCError({
      code: "UNSUPPORTED_MEDIA_TYPE",
      message: "Cannot use stream-like response in non-streaming request - use httpBatchStreamLink",
    });
  }
  return respond(options, info, ctx, undefined, { result: { data } });
}

/** The adapter's `initResponse` and body for one call's result. */
function respond(
  options: PlainQueryOptions,
  info: TRPCRequestInfo,
  ctx: Context,
  error: TRPCError | undefined,
  result: CallResult,
): Answer {
  const errors = error ? [error] : [];
  let status = getHTTPStatusCode(result, errors);
  const headers: Array<[string, string]> = [
    ["vary", "trpc-accept, accept"],
    ["content-type", "application/json"],
  ];
  const meta = options.responseMeta({
    ctx,
    info,
    paths: info.calls.map((call) => call.path),
    data: [result],
    errors,
    eagerGeneration: false,
    type: "query",
  });
  if (meta.headers instanceof Headers) {
    for (const [name, value] of meta.headers) headers.push([name, value]);
  } else if (meta.headers) {
    for (const [name, value] of Object.entries(meta.headers)) {
      if (Array.isArray(value)) for (const one of value) headers.push([name, one]);
      else if (typeof value === "string") set(headers, name, value);
    }
  }
  if (meta.status) status = meta.status;
  // `stringifyJson`: JSON.stringify's bytes, stored JSON text written without a parse (json-text.ts).
  return { status, headers, body: stringifyJson(transformTRPCResponse(config, result)) };
}

/** `Headers.set`: replaces every earlier value of `name`. */
function set(headers: Array<[string, string]>, name: string, value: string): void {
  const lower = name.toLowerCase();
  for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === lower) headers.splice(i, 1);
  headers.push([lower, value]);
}

/**
 * The node adapter's own last resort (`internal_exceptionHandler`): the error shape without
 * path or context (or tRPC's fixed internal error if even that fails), no other headers.
 */
function lastResort(options: PlainQueryOptions, cause: unknown, req: IncomingMessage): Answer {
  const error = getTRPCErrorFromUnknown(cause);
  let shape: Pick<LogbookErrorShape, "code" | "message"> & {
    data: Pick<LogbookErrorShape["data"], "code" | "httpStatus">;
  };
  try {
    shape = errorShape({ error, type: "unknown", path: undefined, input: undefined, ctx: undefined });
  } catch {
    shape = {
      code: -32603,
      message: "Internal server error",
      data: { code: "INTERNAL_SERVER_ERROR", httpStatus: 500 },
    };
  }
  options.onError({ error, type: "unknown", path: undefined, input: undefined, ctx: undefined, req });
  return {
    status: shape.data.httpStatus,
    headers: [],
    body: JSON.stringify(transformTRPCResponse(config, { error: shape })),
  };
}

/**
 * The signal the adapter gives a procedure: aborted when the client goes away before the
 * answer is sent (the request aborted, or the response closed unfinished).
 */
function abortOnClientGone(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const onAbort = () => {
    res.off("close", onClose);
    req.off("aborted", onAbort);
    controller.abort();
  };
  const onClose = () => {
    if (res.writableEnded) {
      req.off("aborted", onAbort);
      return;
    }
    onAbort();
  };
  res.once("close", onClose);
  req.once("aborted", onAbort);
  return controller.signal;
}

/** `/trpc/auth.whoami` → `auth.whoami`; null for anything the adapter would read otherwise. */
function procedurePath(pathname: string): string | null {
  if (!pathname.startsWith(PREFIX)) return null;
  const rest = pathname.slice(PREFIX.length);
  // A batch (`a,b`), trailing or doubled slashes: the adapter trims and splits them.
  if (rest === "" || rest.includes("/") || rest.includes(",")) return null;
  let decoded = rest;
  if (rest.includes("%")) {
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      return null;
    }
  }
  return config.pathSeparator === "." ? decoded : decoded.split(config.pathSeparator).join(".");
}

function isJson(contentType: string): boolean {
  return contentType.split(";", 1)[0]?.trim().toLowerCase() === "application/json";
}

/** tRPC's test for a result only a streaming link can carry (not exported by tRPC). */
function isDataStream(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  if (Symbol.asyncIterator in value) return true;
  return Object.values(value).some((v) => isPromiseLike(v) || isAsyncIterable(v));
}

function isPromiseLike(value: unknown): boolean {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function" &&
    typeof (value as { catch?: unknown }).catch === "function"
  );
}

function isAsyncIterable(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Symbol.asyncIterator in value;
}
