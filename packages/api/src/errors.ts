/**
 * The one place where errors become what a client sees. Services throw `AppError`s (or
 * the database throws, and `toAppError` turns that into one); tRPC throws its own
 * `TRPCError`s (unknown procedure, bad JSON, body too large); input parsing throws Zod
 * errors. `describeError` maps all of them to a tRPC code, an HTTP status and a safe
 * message; everything else is an internal error whose cause is only ever logged.
 */
import { TRPCError } from "@trpc/server";
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { summarizeIssues, toInputIssues, type InputIssue } from "@logbook/contracts";
import { type AppError, toAppError, type AppErrorCode } from "@logbook/core";
import { z } from "zod";

/** Domain code → tRPC code. The HTTP status follows from the tRPC code. */
export const APP_CODE_TO_TRPC_CODE = {
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  LOCK_HELD: "CONFLICT",
  INVALID_TRANSITION: "BAD_REQUEST",
  INVALID_INPUT: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  ANSWER_TOO_LARGE: "UNPROCESSABLE_CONTENT",
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
} as const satisfies Record<AppErrorCode, TRPC_ERROR_CODE_KEY>;

/** The message every internal error gets; the real cause goes to the log only. */
export const INTERNAL_ERROR_MESSAGE = "internal error";

/** `data` of every error the API sends. */
export interface LogbookErrorData {
  code: TRPC_ERROR_CODE_KEY;
  httpStatus: number;
  /** The procedure, when the error came from one. */
  path?: string;
  /** The domain code, when a service refused the call. */
  appCode?: AppErrorCode;
  /** Safe, structured facts (e.g. a lock's holder and expiry). */
  details?: Record<string, unknown>;
  /** Every invalid field of the input, when the input failed its contract (contracts' `toInputIssues`). */
  issues?: InputIssue[];
}

export interface LogbookErrorShape {
  message: string;
  code: (typeof TRPC_ERROR_CODES_BY_KEY)[TRPC_ERROR_CODE_KEY];
  data: LogbookErrorData;
}

export interface DescribedError {
  code: TRPC_ERROR_CODE_KEY;
  httpStatus: number;
  message: string;
  appCode?: AppErrorCode;
  details?: Record<string, unknown>;
  issues?: InputIssue[];
  /** True when the client only gets the generic message: log `cause`. */
  internal: boolean;
  cause: unknown;
}

function isZodError(error: unknown): error is z.core.$ZodError {
  return error instanceof z.core.$ZodError;
}

function statusOf(code: TRPC_ERROR_CODE_KEY): number {
  return getHTTPStatusCodeFromError(new TRPCError({ code }));
}

function fromAppError(error: AppError): DescribedError {
  const code = APP_CODE_TO_TRPC_CODE[error.code];
  return {
    code,
    httpStatus: statusOf(code),
    message: error.message,
    appCode: error.code,
    ...(error.details ? { details: error.details } : {}),
    ...(error.issues ? { issues: error.issues } : {}),
    internal: false,
    cause: error,
  };
}

function fromZodError(error: z.core.$ZodError): DescribedError {
  const issues = toInputIssues(error);
  return {
    code: "BAD_REQUEST",
    httpStatus: 400,
    message: `invalid input: ${summarizeIssues(issues)}`,
    issues,
    internal: false,
    cause: error,
  };
}

function internal(cause: unknown): DescribedError {
  return { code: "INTERNAL_SERVER_ERROR", httpStatus: 500, message: INTERNAL_ERROR_MESSAGE, internal: true, cause };
}

/** tRPC reads a call's input from a POST's body or from a GET's `input` query parameter. */
const INPUT_NOT_JSON = "the input is not valid JSON (a POST's body, or a GET's `input` parameter)";

/** tRPC's own errors keep their code; a few get a clearer message than tRPC gives them. */
const TRPC_MESSAGES: Partial<Record<TRPC_ERROR_CODE_KEY, string>> = {
  PAYLOAD_TOO_LARGE: "the request body is larger than the server accepts (BODY_LIMIT_BYTES)",
  PARSE_ERROR: INPUT_NOT_JSON,
};

/**
 * Anything thrown, described for the client. Domain errors and database errors that
 * `toAppError` recognises keep their meaning; Zod failures list their fields; tRPC's
 * own errors keep their code; everything else is `INTERNAL_SERVER_ERROR` with a generic
 * message, so no SQL, stack or internal detail ever reaches a client.
 */
export function describeError(error: unknown): DescribedError {
  if (error instanceof TRPCError) {
    const cause = error.cause;
    const app = cause === undefined ? null : toAppError(cause);
    if (app) return fromAppError(app);
    if (isZodError(cause)) {
      // Input parsing fails with BAD_REQUEST; output parsing with INTERNAL_SERVER_ERROR (our bug, not the client's).
      return error.code === "BAD_REQUEST" ? fromZodError(cause) : internal(error);
    }
    if (error.code === "INTERNAL_SERVER_ERROR") return internal(cause ?? error);
    if (error.code === "BAD_REQUEST" && cause instanceof SyntaxError) {
      return {
        code: "BAD_REQUEST",
        httpStatus: 400,
        message: `${INPUT_NOT_JSON}: ${cause.message}`,
        internal: false,
        cause: error,
      };
    }
    const message = TRPC_MESSAGES[error.code] ?? (error.message || error.code.toLowerCase().replaceAll("_", " "));
    return { code: error.code, httpStatus: statusOf(error.code), message, internal: false, cause: error };
  }
  const app = toAppError(error);
  if (app) return fromAppError(app);
  if (isZodError(error)) return fromZodError(error);
  return internal(error);
}

/**
 * Rethrown by the error-mapping middleware: a `TRPCError` with the mapped code, so the
 * HTTP status, `onError` and the formatter all see the same thing.
 */
export function toTRPCError(error: unknown): TRPCError {
  const described = describeError(error);
  if (error instanceof TRPCError && error.code === described.code) return error;
  // Keep the innermost cause (the AppError, the ZodError, the database error), not a wrapper.
  return new TRPCError({ code: described.code, message: described.message, cause: described.cause });
}

/** The error shape sent to clients (the `errorFormatter`). Never carries a stack. */
export function formatErrorShape(opts: { error: TRPCError; path: string | undefined }): LogbookErrorShape {
  const described = describeError(opts.error);
  return {
    message: described.message,
    code: TRPC_ERROR_CODES_BY_KEY[described.code],
    data: {
      code: described.code,
      httpStatus: described.httpStatus,
      ...(opts.path === undefined ? {} : { path: opts.path }),
      ...(described.appCode ? { appCode: described.appCode } : {}),
      ...(described.details ? { details: described.details } : {}),
      ...(described.issues ? { issues: described.issues } : {}),
    },
  };
}

/**
 * The Retry-After (seconds) an error asks for, when it asks: TOO_MANY_REQUESTS from the
 * auth throttle, UNAVAILABLE when the server is over its body budget. Both HTTP routes
 * send it as a header.
 */
export function retryAfterSeconds(error: unknown): number | undefined {
  const value = describeError(error).details?.retryAfterSeconds;
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined;
}

/** The JSON body of a plain (non-tRPC) HTTP error, e.g. from `POST /hooks/claude-code`. */
export function toHttpErrorBody(described: DescribedError): {
  error: Omit<LogbookErrorData, "path"> & { message: string };
} {
  return {
    error: {
      message: described.message,
      code: described.code,
      httpStatus: described.httpStatus,
      ...(described.appCode ? { appCode: described.appCode } : {}),
      ...(described.details ? { details: described.details } : {}),
      ...(described.issues ? { issues: described.issues } : {}),
    },
  };
}

/**
 * For the adapter's `onError`: internal errors are logged with their real cause (the
 * client only got "internal error"); expected errors at debug level, without input.
 */
export function logApiError(
  logger: { debug(obj: object, msg?: string): void; error(obj: object, msg?: string): void },
  error: unknown,
  where: { path?: string | undefined; type?: string | undefined },
): void {
  const described = describeError(error);
  if (described.internal) {
    logger.error({ err: described.cause, path: where.path, type: where.type }, "internal error");
  } else {
    logger.debug(
      { path: where.path, code: described.code, appCode: described.appCode, message: described.message },
      "request refused",
    );
  }
}
