import { summarizeIssues, toInputIssues, type InputIssue } from "@logbook/contracts";
import type { z } from "zod";

/**
 * One family of domain errors. Services throw `AppError`; the API maps each code to a
 * tRPC code and HTTP status in one place (packages/api/src/errors.ts). Messages are
 * written for the client: they say what is wrong, never how the database said it.
 */
export const APP_ERROR_CODES = [
  "NOT_FOUND",
  "CONFLICT",
  "LOCK_HELD",
  "INVALID_TRANSITION",
  "INVALID_INPUT",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "PAYLOAD_TOO_LARGE",
  "ANSWER_TOO_LARGE",
  "TOO_MANY_REQUESTS",
  "UNAVAILABLE",
] as const;
export type AppErrorCode = (typeof APP_ERROR_CODES)[number];

export class AppError extends Error {
  override readonly name = "AppError";
  readonly code: AppErrorCode;
  /** Safe, structured facts for the client (e.g. the lock holder and expiry). */
  readonly details: Record<string, unknown> | undefined;
  /** Every invalid field, when input failed its contract (INVALID_INPUT). */
  readonly issues: InputIssue[] | undefined;

  constructor(
    code: AppErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; issues?: InputIssue[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.issues = options.issues;
  }
}

export const notFound = (what: string, id: string): AppError =>
  new AppError("NOT_FOUND", `${what} ${id} was not found`, { details: { id } });

export const invalidInput = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError("INVALID_INPUT", message, details ? { details } : {});

/**
 * INVALID_INPUT for input that failed its contract where no router parsed it (a raw hook
 * body, headers, a merged policy): the same message and `issues` the API gives for a bad
 * tRPC input. `what` names the input (`"hook payload"`).
 */
export function invalidInputFrom(error: z.core.$ZodError, what: string, name?: (path: string) => string): AppError {
  const issues = toInputIssues(error, name);
  return new AppError("INVALID_INPUT", `invalid ${what}: ${summarizeIssues(issues)}`, { issues, cause: error });
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

interface PgError {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
}

/**
 * The driver's error with its SQLSTATE: `error` itself, or what Objection's wrapper (a
 * `UniqueViolationError` and its kin from db-errors, which carry no `code`) holds as
 * `nativeError`.
 */
function pgError(error: unknown): PgError | null {
  if (typeof error !== "object" || error === null) return null;
  const code = (error as PgError).code;
  if (isSqlState(code)) return error;
  const native = (error as { nativeError?: unknown }).nativeError;
  if (typeof native !== "object" || native === null) return null;
  return isSqlState((native as PgError).code) ? native : null;
}

function isSqlState(code: unknown): code is string {
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
}

/** The unique constraint `error` violated (SQLSTATE 23505), or null for any other error. */
export function violatedUniqueConstraint(error: unknown): string | null {
  const pg = pgError(error);
  return pg?.code === "23505" ? (pg.constraint ?? null) : null;
}

/** Socket errors (from `connect`, `read`, `write`) that mean the database cannot be reached. */
const UNREACHABLE_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOENT",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
]);
/** SQLSTATEs of a server going away or not yet there (admin/crash shutdown, cannot connect now, connection failures). */
const UNREACHABLE_SQLSTATE = new Set(["57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"]);
/** What node-postgres says (without a code) when the server vanished under an open connection. */
const CONNECTION_LOST = /Connection terminated|is not queryable|server closed the connection/;

/**
 * Whether `error` says the database is gone (crashed, restarting, unreachable) rather than
 * that a query was wrong: such a request is answered 503, and the server checks the database.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, syscall, message } = error as { code?: unknown; syscall?: unknown; message?: unknown };
  if (typeof code === "string") {
    if (UNREACHABLE_SQLSTATE.has(code)) return true;
    if (UNREACHABLE_ERRNO.has(code) && (syscall === "connect" || syscall === "read" || syscall === "write"))
      return true;
  }
  return typeof message === "string" && CONNECTION_LOST.test(message);
}

/** `error` and the errors it wraps (`cause`), outermost first, at most five deep. */
export function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; typeof current === "object" && current !== null && chain.length < 5;) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/**
 * Whether `error`, or an error it wraps (a TRPCError around an AppError around the driver's
 * error), says the database is away: unreachable, restarting, or no pooled connection came
 * free in time. Such failures are expected during an outage (the server reports the outage
 * once); anything else is a fault worth an error line.
 */
export function isDatabaseAway(error: unknown): boolean {
  return errorChain(error).some((link) => toAppError(link)?.code === "UNAVAILABLE");
}

/**
 * Turns what the database or the pool threw into a domain error, or null when it is
 * an internal failure (then the caller logs it and answers with a generic message).
 */
export function toAppError(error: unknown): AppError | null {
  if (error instanceof AppError) return error;
  if (typeof error === "object" && error !== null && (error as Error).name === "KnexTimeoutError") {
    return new AppError("UNAVAILABLE", "the database is busy: no connection became free in time, try again", {
      cause: error,
    });
  }
  if (isDatabaseUnreachable(error)) {
    // The server notices the outage and checks every second or two: a short wait is enough.
    return new AppError("UNAVAILABLE", "the database is not available right now, try again", {
      cause: error,
      details: { retryAfterSeconds: 1 },
    });
  }
  const pg = pgError(error);
  if (!pg?.code) return null;
  const where = pg.constraint ? ` (${pg.constraint})` : "";
  switch (pg.code) {
    case "23505":
      return new AppError("CONFLICT", `a record with the same unique value already exists${where}`, { cause: error });
    case "23503":
      return new AppError("INVALID_INPUT", `a referenced record does not exist, or is still referenced${where}`, {
        cause: error,
      });
    case "23001":
      return new AppError("CONFLICT", `the record is still referenced by others${where}`, { cause: error });
    case "23514":
    case "23502":
      return new AppError("INVALID_INPUT", `a value breaks a rule of the data model${where}`, { cause: error });
    case "22P02":
    case "22007":
    case "22008":
    case "22009":
    case "22003":
    case "22001":
    case "22021":
    case "22P05":
    case "2202E":
    case "22023":
    case "54000":
      return new AppError("INVALID_INPUT", "a value is malformed or out of range for its field", { cause: error });
    case "40001":
    case "40P01":
      return new AppError("CONFLICT", "a concurrent change got in the way, try again", { cause: error });
    case "57014":
      return new AppError("UNAVAILABLE", "the database took too long to answer, try again", { cause: error });
    case "53300":
    case "57P01":
    case "57P03":
    case "08000":
    case "08003":
    case "08006":
      return new AppError("UNAVAILABLE", "the database is not available right now, try again", { cause: error });
    default:
      return null;
  }
}
