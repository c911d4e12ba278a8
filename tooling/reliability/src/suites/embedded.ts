/**
 * The server on its own embedded PostgreSQL, as a person runs it (no DATABASE_URL): what
 * another account on the machine can reach (issue 14 items 1 and 8), and what happens when
 * the postmaster is killed under load (item 2).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createKnex, findFreePort } from "@logbook/db";
import { createLogbookClient } from "@logbook/sdk";
import { SERVER_ENTRY } from "@logbook/server/testing";
import pg from "pg";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n: number) => Math.round(n);

interface EmbeddedServer {
  url: string;
  apiKey: string;
  home: string;
  child: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

/** The first-start key: the server writes it just after it starts answering /health. */
async function credentialsKey(home: string): Promise<string> {
  for (;;) {
    try {
      return (JSON.parse(await readFile(join(home, "credentials"), "utf8")) as { apiKey: string }).apiKey;
    } catch {
      await sleep(50);
    }
  }
}

/** `dist/main.js` with its own LOGBOOK_HOME and no DATABASE_URL: the embedded PostgreSQL. */
async function startEmbeddedServer(): Promise<EmbeddedServer> {
  const home = await mkdtemp(join(tmpdir(), "logbook-rel-embedded-"));
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    env: { PATH: process.env.PATH, LOGBOOK_HOME: home, PORT: String(port), LOG_LEVEL: "info", AUTH_FAILURE_LIMIT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8").on("data", (chunk: string) => logs.push(...chunk.split("\n").filter(Boolean)));
  }
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited while starting:\n${logs.slice(-20).join("\n")}`);
    const up = await fetch(`${url}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    await sleep(100);
  }
  const apiKey = await credentialsKey(home);
  return {
    url,
    apiKey,
    home,
    child,
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}

export interface PrivacyReport {
  ranAsRoot: boolean;
  /** Octal modes of what the server keeps in LOGBOOK_HOME. */
  modes: Record<string, string>;
  listenAddresses: string;
  appRole: { name: string; superuser: boolean; createdb: boolean; createrole: boolean };
  /** Result of `COPY … TO PROGRAM` as the server's role (42501: refused). */
  copyToProgram: string;
  /** Sign-in with the old constant password over the socket (28P01: refused). */
  legacyPassword: string;
  /** What a second OS account got for each attempt (EACCES: refused); null when not root. */
  otherAccount: Record<string, string> | null;
}

const INTRUDER = "logbook-intruder";

/** The second account (root only: created if missing) tries to read and to connect. */
function probeAsOtherAccount(home: string, socket: string): Record<string, string> {
  if (spawnSync("id", ["-u", INTRUDER]).status !== 0) {
    execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", INTRUDER]);
  }
  const uid = Number(execFileSync("id", ["-u", INTRUDER], { encoding: "utf8" }));
  const gid = Number(execFileSync("id", ["-g", INTRUDER], { encoding: "utf8" }));
  const files = {
    readCredentials: join(home, "credentials"),
    readSecrets: join(home, "pg-secrets.json"),
    readServerJson: join(home, "server.json"),
  };
  const script = `
    const fs = require("node:fs"), net = require("node:net");
    const attempt = (f) => { try { f(); return "allowed"; } catch (e) { return e.code; } };
    const files = ${JSON.stringify(files)};
    const result = {};
    for (const [name, path] of Object.entries(files)) result[name] = attempt(() => fs.readFileSync(path));
    result.listHome = attempt(() => fs.readdirSync(${JSON.stringify(home)}));
    result.listData = attempt(() => fs.readdirSync(${JSON.stringify(join(home, "pg"))}));
    const tcp = net.connect({ host: "127.0.0.1", port: 5432 });
    tcp.on("connect", () => { result.tcp5432 = "connected (not necessarily ours)"; tcp.destroy(); next(); });
    tcp.on("error", (e) => { result.tcp5432 = e.code; next(); });
    function next() {
      const s = net.connect({ path: ${JSON.stringify(socket)} });
      s.on("connect", () => { result.socket = "allowed"; s.destroy(); console.log(JSON.stringify(result)); });
      s.on("error", (e) => { result.socket = e.code; console.log(JSON.stringify(result)); });
    }`;
  const probe = spawnSync(process.execPath, ["-e", script], { uid, gid, cwd: "/", encoding: "utf8" });
  if (probe.status !== 0) throw new Error(`the probe as ${INTRUDER} failed: ${probe.stderr}`);
  return JSON.parse(probe.stdout) as Record<string, string>;
}

async function sqlState(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return "allowed";
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  }
}

export async function runPrivacy(options: { log?: (line: string) => void } = {}): Promise<PrivacyReport> {
  const server = await startEmbeddedServer();
  try {
    const home = server.home;
    const modes: Record<string, string> = {};
    for (const name of [".", "pg", "credentials", "server.json", "pg-secrets.json"]) {
      modes[name] = ((await stat(join(home, name))).mode & 0o777).toString(8);
    }
    const runtime = JSON.parse(await readFile(join(home, "server.json"), "utf8")) as { embeddedDatabaseUrl: string };
    const knex = createKnex(runtime.embeddedDatabaseUrl);
    let report: PrivacyReport;
    try {
      const { rows } = await knex.raw<{
        rows: Array<{ name: string; superuser: boolean; createdb: boolean; createrole: boolean; listen: string }>;
      }>(
        `SELECT current_user AS name, rolsuper AS superuser, rolcreatedb AS createdb, rolcreaterole AS createrole,
           current_setting('listen_addresses') AS listen FROM pg_roles WHERE rolname = current_user`,
      );
      const role = expectDefined(rows[0]);
      const legacyUrl = runtime.embeddedDatabaseUrl.replace(/\/\/[^@]+@/, "//logbook:logbook@");
      const legacy = new pg.Client({ connectionString: legacyUrl });
      legacy.on("error", () => undefined);
      const legacyPassword = await sqlState(() => legacy.connect()).finally(() => legacy.end().catch(() => undefined));
      const socketDir = decodeURIComponent(new URL(runtime.embeddedDatabaseUrl).hostname);
      const ranAsRoot = process.getuid?.() === 0;
      report = {
        ranAsRoot,
        modes,
        listenAddresses: role.listen,
        appRole: { name: role.name, superuser: role.superuser, createdb: role.createdb, createrole: role.createrole },
        copyToProgram: await sqlState(() => knex.raw("COPY (SELECT 1) TO PROGRAM 'id'")),
        legacyPassword,
        otherAccount: ranAsRoot ? probeAsOtherAccount(home, join(socketDir, ".s.PGSQL.5432")) : null,
      };
    } finally {
      await knex.destroy();
    }
    options.log?.(`privacy: ${JSON.stringify(report)}`);
    return report;
  } finally {
    await server.stop();
  }
}

/** The running postmaster's pid (null while its pid file is gone or being rewritten). */
async function postmasterPid(home: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(home, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export interface CrashReport {
  kills: number;
  /** Per kill: ms from kill -9 to the writers' first 503 (null: none saw one), and to their first 200 after it. */
  rounds: Array<{ firstUnavailableMs: number | null; recoveredMs: number }>;
  statuses: Record<string, number>;
  ackedEvents: number;
  ackedButMissing: number;
  serverRestarted: boolean;
  errorLogLines: number;
}

/**
 * Writers ingest without pause; the postmaster is killed (-9) `kills` times. Their answers
 * tell when requests started getting 503 and when they were served again.
 */
export async function runCrash(options: {
  kills: number;
  writers: number;
  log?: (line: string) => void;
}): Promise<CrashReport> {
  const server = await startEmbeddedServer();
  const serverPid = server.child.pid;
  const statuses: Record<string, number> = {};
  const acked: string[] = [];
  /** Each answer with when its request was sent and when it came. */
  const answers: Array<{ sent: number; at: number; status: string }> = [];
  const count = (sent: number, key: string) => {
    statuses[key] = (statuses[key] ?? 0) + 1;
    answers.push({ sent, at: performance.now(), status: key });
  };
  let writing = true;
  try {
    const client = createLogbookClient({ url: server.url, apiKey: server.apiKey, retry: false, batch: false });
    const writer = async (w: number) => {
      let n = 0;
      while (writing) {
        const sent = performance.now();
        try {
          const result = await client.ingest([
            { externalSessionId: `crash-${w}`, eventType: "note", message: `w${w} n${n++}` },
          ]);
          acked.push(...result.ids);
          count(sent, "200");
        } catch (error) {
          count(sent, String((error as { httpStatus?: number }).httpStatus ?? "no answer"));
          await sleep(20);
        }
      }
    };
    const writers = Array.from({ length: options.writers }, (_, w) => writer(w));
    const rounds: CrashReport["rounds"] = [];
    for (let k = 0; k < options.kills; k++) {
      const before = acked.length;
      while (acked.length < before + 50) await sleep(20);
      const pid = await postmasterPid(server.home);
      if (pid === null) throw new Error("no postmaster.pid in the server's data directory");
      const t0 = performance.now();
      process.kill(pid, "SIGKILL");
      // The writers' answers tell when it went down (their first 503) and when it was back
      // (their first 200 after that); a restart may also beat every writer's next request.
      let firstUnavailableMs: number | null = null;
      let recoveredMs: number | null = null;
      while (recoveredMs === null) {
        const down = answers.find((a) => a.at > t0 && a.status === "503");
        if (down && firstUnavailableMs === null) firstUnavailableMs = round(down.at - t0);
        const restarted = (await postmasterPid(server.home)) !== pid;
        // Served again: a request sent after the outage was seen (or after the kill) got a 200.
        const up = answers.find((a) => a.sent > (down?.at ?? t0) && a.status === "200");
        if (up && (down || restarted)) recoveredMs = round(up.at - t0);
        else await sleep(10);
      }
      rounds.push({ firstUnavailableMs, recoveredMs });
      options.log?.(`crash ${k + 1}/${options.kills}: ${JSON.stringify(rounds.at(-1))}`);
    }
    const after = acked.length;
    while (acked.length < after + 50) await sleep(20);
    writing = false;
    await Promise.all(writers);

    const runtime = JSON.parse(await readFile(join(server.home, "server.json"), "utf8")) as {
      embeddedDatabaseUrl: string;
    };
    const knex = createKnex(runtime.embeddedDatabaseUrl);
    const found = new Set<string>();
    try {
      for (let i = 0; i < acked.length; i += 5_000) {
        const rows = await knex("events")
          .whereIn("id", acked.slice(i, i + 5_000))
          .select<Array<{ id: string }>>("id");
        for (const row of rows) found.add(row.id);
      }
    } finally {
      await knex.destroy();
    }
    return {
      kills: options.kills,
      rounds,
      statuses,
      ackedEvents: acked.length,
      ackedButMissing: acked.filter((id) => !found.has(id)).length,
      serverRestarted: server.child.pid !== serverPid || server.child.exitCode !== null,
      errorLogLines: server.logs.filter((line) => /"level":(5|6)\d/.test(line)).length,
    };
  } finally {
    writing = false;
    await server.stop();
  }
}
