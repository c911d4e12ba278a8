import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

import { CliError, EXIT } from "./exit-codes.js";
import { localTimeZone } from "./time.js";

/**
 * The only module that reads the environment. Everything `logbook` needs from it is parsed
 * here once, into a `CliEnvironment` the commands receive.
 */

/** Where a local server listens unless told otherwise (the server's and the hook emitter's default). */
export const DEFAULT_URL = "http://127.0.0.1:4680";

export interface CliEnvironment {
  /** `LOGBOOK_HOME`, default `~/.logbook`: where `credentials` is. */
  home: string;
  envUrl: string | undefined;
  envApiKey: string | undefined;
  /** Colors: stdout is a terminal, `NO_COLOR` is unset (or empty) and `TERM` is not `dumb`. */
  color: boolean;
  /** Spinners go to stderr, and only when it is a terminal. */
  interactive: boolean;
  /**
   * Whether `logbook open` may start a browser: on Linux and other Unixes only with a display
   * (`DISPLAY` or `WAYLAND_DISPLAY`: over SSH or in a container there is none, and it prints
   * the link instead); always on macOS and Windows.
   */
  canOpenBrowser: boolean;
  /**
   * How many columns a table may take: `COLUMNS` when set, else the terminal's width when
   * stdout is one; none for a pipe, where every value is printed whole for scripts.
   */
  width: number | undefined;
  /** The zone every time for people is printed in: this machine's, `TZ` when set. */
  timeZone: string;
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === "" ? undefined : value;

export function readEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  streams: { stdoutTTY: boolean; stderrTTY: boolean; stdoutColumns?: number | undefined } = {
    stdoutTTY: process.stdout.isTTY === true,
    stderrTTY: process.stderr.isTTY === true,
    stdoutColumns: process.stdout.columns,
  },
): CliEnvironment {
  // https://no-color.org: any non-empty NO_COLOR turns colors off.
  const noColor = nonEmpty(env.NO_COLOR) !== undefined || env.TERM === "dumb";
  const columns = Number(nonEmpty(env.COLUMNS));
  const terminal = streams.stdoutTTY && (streams.stdoutColumns ?? 0) > 0 ? streams.stdoutColumns : undefined;
  return {
    home: nonEmpty(env.LOGBOOK_HOME) ?? join(homedir(), ".logbook"),
    envUrl: nonEmpty(env.LOGBOOK_URL),
    envApiKey: nonEmpty(env.LOGBOOK_API_KEY),
    color: streams.stdoutTTY && !noColor,
    interactive: streams.stderrTTY && env.TERM !== "dumb",
    canOpenBrowser:
      process.platform === "darwin" ||
      process.platform === "win32" ||
      nonEmpty(env.DISPLAY) !== undefined ||
      nonEmpty(env.WAYLAND_DISPLAY) !== undefined,
    // COLUMNS wins, as for ls and most tools: set it to fit a pipe, or to try a width.
    width: Number.isInteger(columns) && columns > 0 ? columns : terminal,
    // Node reads TZ itself, at start; Intl answers with the zone it chose.
    timeZone: localTimeZone(),
  };
}

export interface Connection {
  url: string;
  apiKey: string;
}

interface StoredCredentials {
  url?: string;
  apiKey?: string;
}

/** `$LOGBOOK_HOME/credentials` as the server writes it (`{ url, apiKey }`); missing means none. */
export function readCredentialsFile(path: string): StoredCredentials {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, EXIT.error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not valid JSON (expected { "url": …, "apiKey": … })`, EXIT.usage);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new CliError(`${path} is not a JSON object (expected { "url": …, "apiKey": … })`, EXIT.usage);
  }
  const { url, apiKey } = parsed as Record<string, unknown>;
  return {
    ...(typeof url === "string" && url !== "" ? { url } : {}),
    ...(typeof apiKey === "string" && apiKey !== "" ? { apiKey } : {}),
  };
}

/** The credentials file of an environment. */
export function credentialsPath(environment: CliEnvironment): string {
  return join(environment.home, "credentials");
}

/**
 * The server URL: `--url`, else `LOGBOOK_URL`, else the credentials file, else the default.
 * Checked to be an http(s) URL so a typo is a usage error, not a network error.
 */
export function resolveUrl(environment: CliEnvironment, flagUrl: string | undefined): string {
  const raw =
    nonEmpty(flagUrl) ?? environment.envUrl ?? readCredentialsFile(credentialsPath(environment)).url ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new CliError(`not a URL: ${raw} (expected e.g. ${DEFAULT_URL})`, EXIT.usage);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new CliError(`not an http(s) URL: ${raw}`, EXIT.usage);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    // A key in a URL ends up in shell history and logs; it goes in --api-key or the environment.
    throw new CliError("the URL must not contain a user name or password: pass the key with --api-key", EXIT.usage);
  }
  return raw.replace(/\/+$/, "");
}

/** URL and key for the SDK, each from the first place that has it: flag, environment, credentials file. */
export function resolveConnection(
  environment: CliEnvironment,
  flags: { url?: string | undefined; apiKey?: string | undefined },
): Connection {
  const url = resolveUrl(environment, flags.url);
  const apiKey =
    nonEmpty(flags.apiKey) ?? environment.envApiKey ?? readCredentialsFile(credentialsPath(environment)).apiKey;
  if (apiKey === undefined) {
    throw new CliError(
      `no API key: pass --api-key, set LOGBOOK_API_KEY, or start the server once so it writes ${credentialsPath(environment)}`,
      EXIT.unreachable,
    );
  }
  return { url, apiKey };
}
