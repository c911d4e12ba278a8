import type { AppRouter, LogbookErrorData } from "@logbook/api";
import type { InputIssue } from "@logbook/contracts";
import { TRPCClientError } from "@trpc/client";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";

/**
 * tRPC's error codes (`NOT_FOUND`, `BAD_REQUEST`, …); `NETWORK_ERROR` when no answer came
 * back; `CLIENT_CLOSED_REQUEST` when the caller aborted.
 */
export type LogbookErrorCode = LogbookErrorData["code"] | "NETWORK_ERROR";
/** Logbook's domain codes (`LOCK_HELD`, `INVALID_TRANSITION`, …): finer than `code`. */
export type LogbookAppCode = NonNullable<LogbookErrorData["appCode"]>;

const CODE_BY_STATUS: Record<number, LogbookErrorData["code"]> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_SUPPORTED",
  408: "TIMEOUT",
  409: "CONFLICT",
  412: "PRECONDITION_FAILED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "UNPROCESSABLE_CONTENT",
  429: "TOO_MANY_REQUESTS",
  500: "INTERNAL_SERVER_ERROR",
  501: "NOT_IMPLEMENTED",
  502: "BAD_GATEWAY",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

/** Statuses worth another try: the server, or something in front of it, is briefly unavailable. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** The code of a status: its own, else the class's (a 431 is a refusal of the request). */
function codeOfStatus(status: number): LogbookErrorData["code"] {
  return CODE_BY_STATUS[status] ?? (status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR");
}

const isTrpcCode = (code: unknown): code is LogbookErrorData["code"] =>
  typeof code === "string" && Object.hasOwn(TRPC_ERROR_CODES_BY_KEY, code);

/** How much of a refusal's body is read to tell whose it is (a proxy's page can be large). */
const READ_REFUSAL_BYTES = 64 * 1024;

/** The first `limit` bytes of a body as text, and whether there was more. */
async function readSome(body: ReadableStream<Uint8Array>, limit: number): Promise<{ text: string; whole: boolean }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let whole = false;
  while (size <= limit) {
    const { done, value } = await reader.read();
    if (done) {
      whole = true;
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  if (!whole) await reader.cancel().catch(() => undefined);
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { text: new TextDecoder().decode(bytes), whole };
}

/** A tRPC error answer (one call's, or a batch's list of them): tRPC reads it itself. */
function isTrpcAnswer(body: unknown): boolean {
  const isOne = (item: unknown) => {
    const answer = item as { error?: { code?: unknown; data?: unknown }; result?: unknown } | null;
    return (
      typeof answer === "object" &&
      answer !== null &&
      ("result" in answer || (typeof answer.error?.code === "number" && typeof answer.error.data === "object"))
    );
  };
  return Array.isArray(body) ? body.length > 0 && body.every(isOne) : isOne(body);
}

/**
 * The error for a refusal of an API call that is not a tRPC answer, or null when it is one
 * (or when it cannot be told: tRPC then reads it as usual). Without this, tRPC says only
 * "Unable to transform response from server" (or a JSON syntax error, for a batch), and the
 * status is lost: Logbook's own plain answers (a URL with a path after the host, an input
 * too long for a URL) name what was wrong, and another server's page says it is not Logbook.
 */
export async function refusalNotFromApi(response: Response): Promise<LogbookError | null> {
  if (!response.body) return null;
  if (response.ok) {
    // Logbook's API answers in JSON; a page that is not (an HTML 200 from another server on
    // that port) would reach tRPC as a JSON syntax error, read as a network failure.
    if (/\bjson\b/i.test(response.headers.get("content-type") ?? "")) return null;
    await response.body.cancel().catch(() => undefined);
    return refusalError(response, undefined, null);
  }
  let read: { text: string; whole: boolean };
  try {
    read = await readSome(response.clone().body ?? new ReadableStream(), READ_REFUSAL_BYTES);
  } catch {
    return null;
  }
  let body: unknown;
  try {
    body = JSON.parse(read.text);
  } catch {
    if (!read.whole) return null;
    body = undefined;
  }
  if (isTrpcAnswer(body)) return null;
  await response.body.cancel().catch(() => undefined);
  return refusalError(response, body, null);
}

/**
 * A refusal from outside tRPC as a LogbookError: Logbook's plain body, `{ error: { message,
 * code, httpStatus, appCode?, details?, issues? } }`, carries the fields of a tRPC error's
 * `data`; anything else (a proxy's page, another server) gets its status's code and says
 * it was not Logbook's answer. `route` names the plain route asked, null for an API call
 * (the error then has no procedure: none answered).
 */
function refusalError(response: Response, body: unknown, route: string | null): LogbookError {
  type PlainErrorBody = { error?: Partial<LogbookErrorData> & { message?: unknown } } | null | undefined;
  const error = (body as PlainErrorBody)?.error;
  const code = isTrpcCode(error?.code) ? error.code : codeOfStatus(response.status);
  const where = response.url ? ` from ${response.url}` : "";
  const logbookMessage = typeof error?.message === "string" ? error.message : null;
  const fromLogbook = logbookMessage !== null;
  const message =
    logbookMessage ??
    `HTTP ${response.status}${where}, which is not an answer of Logbook's API (is the server's URL right?)`;
  const data: LogbookErrorData = {
    code,
    httpStatus: response.status,
    ...(route !== null ? { path: route } : {}),
    ...(error?.appCode ? { appCode: error.appCode } : {}),
    ...(error?.details ? { details: error.details } : {}),
    ...(error?.issues ? { issues: error.issues } : {}),
  };
  return new LogbookError(
    new TRPCClientError<AppRouter>(message, {
      result: { error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data } },
      meta: { response, notLogbook: !fromLogbook },
    }),
  );
}

function statusOf(error: TRPCClientError<AppRouter>): number | null {
  if (error.data?.httpStatus) return error.data.httpStatus;
  // A response that was not tRPC JSON (a proxy's 502 page): the link keeps the response.
  const response = (error.meta as { response?: { status?: unknown } } | undefined)?.response;
  if (typeof response?.status === "number" && response.status >= 400) return response.status;
  // A subscription refused before its stream started: the EventSource error event carries the status.
  const cause = error.cause as { code?: unknown } | undefined;
  if (typeof cause?.code === "number" && cause.code >= 400) return cause.code;
  return null;
}

/**
 * Every error the client throws. `code` and `httpStatus` say what kind of failure it is;
 * `appCode`, `issues` and `details` say more when the server refused the call.
 *
 * @example
 * ```ts
 * try { await logbook.sessions.get.query({ id }); }
 * catch (error) { if (isLogbookError(error) && error.code === "NOT_FOUND") … }
 * ```
 */
export class LogbookError extends TRPCClientError<AppRouter> {
  readonly code: LogbookErrorCode;
  /** The HTTP status of the answer, or null when there was none (network failure). */
  readonly httpStatus: number | null;
  readonly appCode: LogbookAppCode | null;
  /** Each invalid input field with a dotted path (`events.0.eventType`); empty otherwise. */
  readonly issues: InputIssue[];
  /** Safe facts the server added (e.g. who holds a lock until when). */
  readonly details: Record<string, unknown> | null;
  /** The procedure that failed, e.g. `sessions.get`. */
  readonly procedure: string | null;
  /**
   * An answer came, but not from a Logbook server (another server's page, a proxy's): the
   * URL is likely wrong. False for Logbook's own refusals and when no answer came.
   */
  readonly notLogbook: boolean;

  constructor(from: TRPCClientError<AppRouter>) {
    super(from.message, {
      ...(from.shape ? { result: { error: from.shape } } : {}),
      ...(from.cause ? { cause: from.cause } : {}),
      ...(from.meta ? { meta: from.meta } : {}),
    });
    // TRPCClientError resets the prototype to its own in its constructor.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = "LogbookError";
    const status = statusOf(from);
    this.httpStatus = status;
    this.code =
      from.data?.code ??
      (status !== null ? codeOfStatus(status) : isAbort(from) ? "CLIENT_CLOSED_REQUEST" : "NETWORK_ERROR");
    this.appCode = from.data?.appCode ?? null;
    this.issues = from.data?.issues ?? [];
    this.details = from.data?.details ?? null;
    this.procedure = from.data?.path ?? null;
    this.notLogbook = (from.meta as { notLogbook?: unknown } | undefined)?.notLogbook === true;
  }

  /** A failure worth retrying: no answer at all, or 502/503/504. */
  get transient(): boolean {
    return this.code === "NETWORK_ERROR" || (this.httpStatus !== null && TRANSIENT_STATUSES.has(this.httpStatus));
  }

  static override from(error: unknown): LogbookError {
    if (error instanceof LogbookError) return error;
    return new LogbookError(
      error instanceof TRPCClientError ? (error as TRPCClientError<AppRouter>) : TRPCClientError.from(toObject(error)),
    );
  }
}

/**
 * The error of a refusal from one of the server's plain routes (`GET /export/sessions/<id>`):
 * the same `LogbookError` as an API call's, its `procedure` the route.
 */
export async function errorFromPlainResponse(response: Response, route: string): Promise<LogbookError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  return refusalError(response, body, route);
}

function isAbort(error: TRPCClientError<AppRouter>): boolean {
  const cause = error.cause as { name?: unknown } | undefined;
  return cause?.name === "AbortError" || error.name === "AbortError";
}

function toObject(error: unknown): Error | object {
  return typeof error === "object" && error !== null ? error : new Error(String(error));
}

export function isLogbookError(error: unknown): error is LogbookError {
  return error instanceof LogbookError;
}
