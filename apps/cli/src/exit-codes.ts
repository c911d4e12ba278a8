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
  /** No server answered, or it refused the key (missing, unknown, revoked, lacking scope). */
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

/** The message and exit code for anything a command threw. */
export function describeFailure(error: unknown, url: string | undefined): { message: string; exitCode: ExitCode } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (isLogbookError(error)) {
    const where = url ?? "the server";
    switch (error.code) {
      case "NETWORK_ERROR":
        return { message: `cannot reach the Logbook server at ${where}: is it running?`, exitCode: EXIT.unreachable };
      case "UNAUTHORIZED":
        return {
          message: `the server at ${where} refused the API key (${error.message}); check --api-key, LOGBOOK_API_KEY or the credentials file`,
          exitCode: EXIT.unreachable,
        };
      case "FORBIDDEN":
        return { message: `the API key may not do this: ${error.message}`, exitCode: EXIT.unreachable };
      case "NOT_FOUND":
        return { message: error.message, exitCode: EXIT.notFound };
      case "BAD_REQUEST":
        return { message: `the server refused the request: ${error.message}`, exitCode: EXIT.usage };
      case "SERVICE_UNAVAILABLE":
        return { message: `the server at ${where} is unavailable: ${error.message}`, exitCode: EXIT.unreachable };
      default:
        return { message: `the server answered with an error: ${error.message}`, exitCode: EXIT.error };
    }
  }
  return { message: error instanceof Error ? error.message : String(error), exitCode: EXIT.error };
}
