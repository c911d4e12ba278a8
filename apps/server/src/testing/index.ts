/**
 * `@logbook/server/testing`: runs the BUILT server (`dist/main.js`) as a child process,
 * as users run it, for end-to-end tests of the server, the SDK and the hook emitter.
 * Build first (`pnpm --filter @logbook/server build`; the package's `test` does).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { findFreePort } from "@logbook/db";

/** The built entry point the helper runs. */
export const SERVER_ENTRY = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export interface StartTestServerOptions {
  /** The database to use (e.g. `createTestDatabase().url`): tests never use the embedded one. */
  databaseUrl: string;
  /** LOGBOOK_HOME for the server. @default a new temporary directory, removed by `stop()` */
  home?: string;
  /** More environment for the server (e.g. `{ BODY_LIMIT_BYTES: "2048" }`). */
  env?: Record<string, string>;
  /** Receives every line the server writes (JSON logs on stdout, anything on stderr). @default kept for error messages only */
  onLog?: (line: string) => void;
  /**
   * How long to wait for `GET /health` to answer 200. Under the 120 s hook timeout: a start
   * takes seconds alone, but loading the server on a machine busy with other suites took
   * over 60 s. @default 110000
   */
  startTimeoutMs?: number;
}

export interface TestServer {
  /** e.g. http://127.0.0.1:41234 (the same across `restart()`). */
  url: string;
  /** A key with ingest+read scopes: the first-start key from `home/credentials`, or a new one. */
  apiKey: string;
  home: string;
  /** The child's pid (changes on restart). */
  readonly pid: number | undefined;
  /** How the last process ended: its exit code, or the signal that killed it; null while it runs. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Graceful stop (SIGTERM), waits for the exit; removes a temporary home. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) and waits for the process to exit; the home stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops (gracefully, if still running) and starts again on the same port and home. */
  restart(): Promise<void>;
  /** Creates a key through `logbook-server keys create` and returns its secret. */
  createKey(scopes: Array<"ingest" | "read" | "admin">, name?: string): Promise<string>;
  /** Runs `logbook-server <args>` against the same database and home (without the pool settings given to the server). */
  runCommand(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** The last lines the server wrote (for assertion messages). */
  logs(): string[];
}

const LOG_LINES_KEPT = 200;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** The server's database pool settings (packages/db config), left out of harness commands. */
const POOL_SETTINGS = [
  "DATABASE_POOL_MIN",
  "DATABASE_POOL_MAX",
  "DATABASE_ACQUIRE_TIMEOUT_MS",
  "DATABASE_IDLE_TIMEOUT_MS",
  "DATABASE_STATEMENT_TIMEOUT_MS",
] as const;

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function readKey(home: string): Promise<string | null> {
  try {
    const parsed = JSON.parse(await readFile(join(home, "credentials"), "utf8")) as { apiKey?: unknown };
    return typeof parsed.apiKey === "string" ? parsed.apiKey : null;
  } catch {
    return null;
  }
}

/**
 * Whether process `pid` is the one listening on TCP `port` (Linux, from /proc; elsewhere
 * always true). A free port found before the child starts can be taken meanwhile by another
 * test's server: then our child fails to listen, and that server answers our `/health`.
 */
async function listensOn(pid: number, port: number): Promise<boolean> {
  let table: string;
  try {
    table = await readFile("/proc/net/tcp", "utf8");
  } catch {
    return true;
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // local address "0100007F:1F90", state 0A (LISTEN), the socket's inode tenth.
    if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A" && fields[9]) inodes.add(`socket:[${fields[9]}]`);
  }
  if (inodes.size === 0) return false;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    if (inodes.has(target)) return true;
  }
  return false;
}

/** Tries of a first start, each on a new free port, when another process took the port first. */
const PORT_TRIES = 5;

/**
 * Starts `dist/main.js` on a free port against `databaseUrl`, waits until `/health`
 * answers 200 and returns its URL and an ingest+read key. Logs are kept (not printed)
 * unless `onLog` is given; a start that fails throws with the server's last lines.
 */
export async function startTestServer(options: StartTestServerOptions): Promise<TestServer> {
  if (!existsSync(SERVER_ENTRY)) {
    throw new Error(`${SERVER_ENTRY} does not exist: build the server first (pnpm --filter @logbook/server build)`);
  }
  const ownHome = options.home === undefined;
  const home = options.home ?? (await mkdtemp(join(tmpdir(), "logbook-test-server-")));
  let port = await findFreePort();
  let url = `http://127.0.0.1:${port}`;
  const lines: string[] = [];
  const keep = (line: string) => {
    if (line.length === 0) return;
    lines.push(line);
    if (lines.length > LOG_LINES_KEPT) lines.shift();
    options.onLog?.(line);
  };
  // PATH etc. come along so the child behaves like a shell-started server; the rest is explicit.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: "info",
    ...options.env,
    DATABASE_URL: options.databaseUrl,
    LOGBOOK_HOME: home,
    HOST: "127.0.0.1",
    PORT: String(port),
  };

  const pipeLines = (stream: NodeJS.ReadableStream | null) => {
    let buffered = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const part of parts) keep(part);
    });
    stream?.on("end", () => keep(buffered));
  };

  let child: ChildProcess | null = null;

  const launch = async () => {
    env.PORT = String(port);
    const started = spawn(process.execPath, [SERVER_ENTRY], { env, stdio: ["ignore", "pipe", "pipe"] });
    child = started;
    pipeLines(started.stdout);
    pipeLines(started.stderr);
    const deadline = Date.now() + (options.startTimeoutMs ?? 110_000);
    while (Date.now() < deadline) {
      if (started.exitCode !== null || started.signalCode !== null) {
        throw new Error(
          `logbook-server exited (${started.exitCode ?? started.signalCode}) while starting:\n${lines.slice(-30).join("\n")}`,
        );
      }
      if ((await healthy(url)) && started.pid !== undefined && (await listensOn(started.pid, port))) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    started.kill("SIGKILL");
    await exited(started);
    throw new Error(`logbook-server did not become healthy at ${url} in time:\n${lines.slice(-30).join("\n")}`);
  };

  // A harness command (`keys create`, …) is set-up, not the server under test: it runs without
  // the pool limits a test may give the server (a 500 ms acquire timeout fails a fresh
  // process's first connection on a loaded machine), with the same database and home.
  const commandEnv = (): NodeJS.ProcessEnv => {
    const made: NodeJS.ProcessEnv = { ...env };
    for (const name of POOL_SETTINGS) delete made[name];
    return made;
  };
  const runCommand = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const command = spawn(process.execPath, [SERVER_ENTRY, ...args], {
        env: commandEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      command.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      command.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      command.once("error", reject);
      command.once("close", (code) => resolve({ code, stdout, stderr }));
    });

  const createKey = async (scopes: Array<"ingest" | "read" | "admin">, name = "test") => {
    const result = await runCommand(["keys", "create", "--name", name, "--scopes", scopes.join(","), "--json"]);
    if (result.code !== 0) throw new Error(`keys create failed (${result.code}): ${result.stderr}`);
    return (JSON.parse(result.stdout) as { secret: string }).secret;
  };

  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    current.kill(signal);
    await exited(current);
  };

  const stopProcess = async () => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const forced = setTimeout(() => current.kill("SIGKILL"), 30_000);
    current.kill("SIGTERM");
    await exited(current);
    clearTimeout(forced);
  };

  // The port is free when found, but not reserved: another process may take it before the
  // child listens. Then the child exits with EADDRINUSE, and a new port is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      const taken = lines.some((line) => line.includes("EADDRINUSE"));
      if (!taken || attempt >= PORT_TRIES) throw error;
      lines.length = 0;
      port = await findFreePort();
      url = `http://127.0.0.1:${port}`;
    }
  }
  // The first start on an empty database writes the credentials; a server sharing a
  // database that already has keys does not, so it gets a key of its own.
  const apiKey = (await readKey(home)) ?? (await createKey(["ingest", "read"], "test-server"));

  return {
    url,
    apiKey,
    home,
    get pid() {
      return child?.pid;
    },
    get exit() {
      const current = child;
      if (!current || (current.exitCode === null && current.signalCode === null)) return null;
      return { code: current.exitCode, signal: current.signalCode };
    },
    async stop() {
      await stopProcess();
      if (ownHome) await rm(home, { recursive: true, force: true });
    },
    kill,
    async restart() {
      await stopProcess();
      await launch();
    },
    createKey,
    runCommand,
    logs: () => [...lines],
  };
}
