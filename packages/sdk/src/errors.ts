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
  413: "PAYLOAD_TOO_LARGE",
  429: "TOO_MANY_REQUESTS",
  500: "INTERNAL_SERVER_ERROR",
  502: "BAD_GATEWAY",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

/** Statuses worth another try: the server, or something in front of it, is briefly unavailable. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

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
      (status !== null
        ? (CODE_BY_STATUS[status] ?? "INTERNAL_SERVER_ERROR")
        : isAbort(from)
          ? "CLIENT_CLOSED_REQUEST"
          : "NETWORK_ERROR");
    this.appCode = from.data?.appCode ?? null;
    this.issues = from.data?.issues ?? [];
    this.details = from.data?.details ?? null;
    this.procedure = from.data?.path ?? null;
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
 * their body, `{ error: { message, code, httpStatus, appCode?, details?, issues? } }`, carries
 * the fields of a tRPC error's `data`, so it becomes the same `LogbookError`. A body that is
 * not that (a proxy's page) gives the status's code.
 */
export async function errorFromPlainResponse(response: Response, route: string): Promise<LogbookError> {
  type PlainErrorBody = { error?: Partial<LogbookErrorData> & { message?: unknown } } | null;
  let body: PlainErrorBody = null;
  try {
    body = (await response.json()) as PlainErrorBody;
  } catch {
    body = null;
  }
  const error = body?.error;
  const code = error?.code ?? CODE_BY_STATUS[response.status] ?? "INTERNAL_SERVER_ERROR";
  const message = typeof error?.message === "string" ? error.message : `${route} answered ${response.status}`;
  const data: LogbookErrorData = {
    code,
    httpStatus: response.status,
    path: route,
    ...(error?.appCode ? { appCode: error.appCode } : {}),
    ...(error?.details ? { details: error.details } : {}),
    ...(error?.issues ? { issues: error.issues } : {}),
  };
  return new LogbookError(
    new TRPCClientError<AppRouter>(message, {
      result: { error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data } },
      meta: { response },
    }),
  );
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
