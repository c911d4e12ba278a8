import { isLogbookError } from "@logbook/sdk";

/**
 * What `logbook` exits with. Scripts may rely on these; the README lists them.
 * Anything the server refuses because of what was asked is a usage error, not a crash.
 */
export const EXIT = {
  ok: 0,
  /** Something failed that is not one of the cases below (a server error, a bug). */
  error: 1,
  /** Bad arguments or options, or input the server refused as invalid. */
  usage: 2,
  /** The session, project or page asked for does not exist. */
  notFound: 3,
  /**
   * No server answered, no Logbook API is at the URL, or the server refused the key
   * (missing, unknown, revoked, lacking scope).
   */
  unreachable: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI explains itself: the message is printed as is and the code is the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * How to get a key that may, when the server says which scope was missing: keys are made
 * where the server runs (its database), never through the API a refused key reaches.
 */
function scopeHint(refusal: string): string {
  const scope = /does not have the '(ingest|read|admin)' scope/.exec(refusal)?.[1];
  if (scope === undefined) return "";
  return (
    `; a key with it is made where the server runs: logbook-server keys create --name NAME --scopes ${scope},` +
    " then give it with --api-key or LOGBOOK_API_KEY"
  );
}

/** The message and exit code for anything a command threw. */
export function describeFailure(error: unknown, url: string | undefined): { message: string; exitCode: ExitCode } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (isLogbookError(error)) {
    const where = url ?? "the server";
    if (error.notLogbook && !error.transient) {
      // Something answers there, but not Logbook (another server on that port). A proxy's
      // 502/503/504 says Logbook behind it is away, not that the URL is wrong.
      return {
        message: `no Logbook API at ${where}: it answered HTTP ${error.httpStatus ?? "?"} with something else; check --url or LOGBOOK_URL`,
        exitCode: EXIT.unreachable,
      };
    }
    switch (error.code) {
      case "NETWORK_ERROR":
        return { message: `cannot reach the Logbook server at ${where}: is it running?`, exitCode: EXIT.unreachable };
      case "UNAUTHORIZED":
        return {
          message: `the server at ${where} refused the API key (${error.message}); check --api-key, LOGBOOK_API_KEY or the credentials file`,
          exitCode: EXIT.unreachable,
        };
      case "FORBIDDEN":
        return {
          message: `the API key may not do this: ${error.message}${scopeHint(error.message)}`,
          exitCode: EXIT.unreachable,
        };
      case "NOT_FOUND":
        // Not a procedure's answer: the URL leads to no API (a path after the host, a proxy).
        if (error.procedure === null) {
          return {
            message: `no Logbook API at ${where} (${error.message}); check --url or LOGBOOK_URL`,
            exitCode: EXIT.unreachable,
          };
        }
        return { message: error.message, exitCode: EXIT.notFound };
      case "BAD_REQUEST":
        // A query's input travels in its URL, which the server caps.
        if (error.httpStatus === 431) {
          return {
            message: "the request is too long for the server (over 16 KB in its URL): give shorter text",
            exitCode: EXIT.usage,
          };
        }
        return { message: `the server refused the request: ${error.message}`, exitCode: EXIT.usage };
      case "SERVICE_UNAVAILABLE":
        return { message: `the server at ${where} is unavailable: ${error.message}`, exitCode: EXIT.unreachable };
      default:
        return { message: `the server answered with an error: ${error.message}`, exitCode: EXIT.error };
    }
  }
  return { message: error instanceof Error ? error.message : String(error), exitCode: EXIT.error };
}
