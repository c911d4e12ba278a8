/**
 * Issue 14 item 2: the embedded PostgreSQL killed (kill -9 of the postmaster) under a
 * running server. The server notices, answers 503 with Retry-After at once while the
 * database is down (never a 500, also for the request in flight), restarts PostgreSQL
 * itself and serves again without a restart of its own; nothing acknowledged is lost.
 *
 * To hold the outage open long enough to look at it (a restart takes well under a second),
 * the test first puts the pid of a live process in PostgreSQL's socket lock file: a new
 * postmaster then refuses to start ("lock file already exists") until the test removes the
 * file. The process runs as the data directory's owner: PostgreSQL takes a process it may
 * not signal (another account's) for a stale entry.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createKnex, findFreePort, startEmbeddedPostgres } from "@logbook/db";
import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { waitFor } from "@logbook/vitest-config/wait-for";

import { SERVER_ENTRY } from "../testing/index.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let home: string;
let child: ChildProcess;
let url: string;
const lines: string[] = [];

async function status(path: string): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const response = await fetch(`${url}${path}`, {
    headers: { authorization: `Bearer ${apiKey}` },
    signal: AbortSignal.timeout(60_000),
  });
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body: await response.text() };
}

/**
 * How long any one wait here may take before it fails naming what never came: within the
 * start hook's 120 s and a test's 180 s (a wait on a failing database must not outlast them).
 */
const DEADLINE_MS = 110_000;

/** Resolves once the server at `base` answers /health with 200; fails at once if it exits. */
async function started(server: ChildProcess, base: string, output: string[]): Promise<void> {
  await waitFor(
    "the server's /health to answer 200",
    async () => {
      if (server.exitCode !== null) throw new Error(`server exited while starting:\n${output.join("\n")}`);
      return fetch(`${base}/health`).then(
        (r) => r.status,
        (error: unknown) => String(error),
      );
    },
    { deadlineMs: DEADLINE_MS, accept: (answer) => answer === 200 },
  );
}

/** The first-start key, from the credentials file the server writes just after /health answers. */
async function firstStartKey(serverHome: string): Promise<string> {
  return waitFor(
    "the server's credentials file",
    async () => {
      try {
        return (JSON.parse(await readFile(join(serverHome, "credentials"), "utf8")) as { apiKey: string }).apiKey;
      } catch (error) {
        return `not yet: ${String(error)}`;
      }
    },
    { deadlineMs: DEADLINE_MS, accept: (key) => !key.startsWith("not yet: ") },
  );
}

/**
 * The HTTP status an ingest of one note gets, or "stored". Used while the database is down:
 * a new request is refused at once with 503 (the writer's request in flight when it went
 * may instead wait for a connection and succeed after the restart, so the writer alone
 * need not see one).
 */
async function ingestStatus(client: LogbookClient, externalSessionId: string): Promise<number | "stored" | undefined> {
  return client.ingest([{ externalSessionId, eventType: "note", message: "while down" }]).then(
    () => "stored",
    (error: unknown) => (error as { httpStatus?: number }).httpStatus,
  );
}

let apiKey = "";
let holder: ChildProcess | undefined;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "logbook-outage-test-"));
  const port = await findFreePort();
  url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [SERVER_ENTRY], {
    env: { PATH: process.env.PATH, LOGBOOK_HOME: home, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8").on("data", (chunk: string) => lines.push(...chunk.split("\n").filter(Boolean)));
  }
  await started(child, url, lines);
  apiKey = await firstStartKey(home);
}, 120_000);

afterAll(async () => {
  holder?.kill("SIGKILL");
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
  await rm(home, { recursive: true, force: true });
});

describe("the embedded PostgreSQL killed under load", () => {
  it("503 with Retry-After while down, restarted by the server, nothing acknowledged lost", async () => {
    const client = createLogbookClient({ url, apiKey, retry: false, batch: false });
    const acknowledged: string[] = [];
    const failures: Array<{ httpStatus?: number; code?: string; message: string }> = [];
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        try {
          const result = await client.ingest([{ externalSessionId: "outage", eventType: "note", message: `n${n++}` }]);
          acknowledged.push(...result.ids);
        } catch (error) {
          const e = error as { httpStatus?: number; code?: string; message: string };
          failures.push({ httpStatus: e.httpStatus, code: e.code, message: e.message });
          await sleep(20);
        }
      }
    })();
    await waitFor("20 acknowledged writes", () => acknowledged.length, {
      deadlineMs: DEADLINE_MS,
      accept: (n) => n >= 20,
    });

    const dataDir = join(home, "pg");
    const [pidLine = ""] = (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n");
    const lockFile = join(dataDir, ".s.PGSQL.5432.lock");
    const lock = (await readFile(lockFile, "utf8")).split("\n");
    const owner = await stat(dataDir);
    const asOwner = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
    holder = spawn("sleep", ["600"], { stdio: "ignore", ...asOwner });
    await writeFile(lockFile, [String(holder.pid), ...lock.slice(1)].join("\n"));
    const serverPid = child.pid;
    process.kill(Number(pidLine), "SIGKILL");

    // Down: every route answers 503 at once, with Retry-After; /health says why.
    await waitFor("/trpc/sessions.list to answer 503", async () => (await status("/trpc/sessions.list")).status, {
      deadlineMs: DEADLINE_MS,
      accept: (code) => code === 503,
    });
    const down = await status("/trpc/sessions.list");
    expect(down.status).toBe(503);
    expect(down.retryAfter).toBe("1");
    expect(JSON.parse(down.body)).toMatchObject({ error: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 } });
    const health = await status("/health");
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body)).toMatchObject({ status: "degraded", database: { reachable: false } });
    expect(await ingestStatus(client, "outage")).toBe(503);

    // The way clear again: the server restarts PostgreSQL by itself.
    await rm(lockFile, { force: true });
    await waitFor("/health to answer 200", async () => (await status("/health")).status, {
      deadlineMs: DEADLINE_MS,
      accept: (code) => code === 200,
    });
    const before = acknowledged.length;
    await waitFor(`${before + 20} acknowledged writes`, () => acknowledged.length, {
      deadlineMs: DEADLINE_MS,
      accept: (n) => n >= before + 20,
    });
    writing = false;
    await writer;

    expect(child.pid).toBe(serverPid);
    expect(child.exitCode).toBeNull();
    for (const failure of failures) expect(failure, JSON.stringify(failure)).toMatchObject({ httpStatus: 503 });

    const runtime = JSON.parse(await readFile(join(home, "server.json"), "utf8")) as { embeddedDatabaseUrl: string };
    const knex = createKnex(runtime.embeddedDatabaseUrl);
    try {
      const stored = new Set(
        (await knex("events").whereIn("id", acknowledged).select<Array<{ id: string }>>("id")).map((r) => r.id),
      );
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await knex.destroy();
    }
    const logs = lines.join("\n");
    expect(logs).toMatch(/database unavailable: answering 503/);
    expect(logs).toMatch(/restarted the embedded PostgreSQL/);
    expect(logs).toMatch(/database available again/);
    // No error lines (the ones there are, if any, are what the failure shows).
    expect(lines.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
  }, 120_000);
});

/**
 * With DATABASE_URL the server cannot restart the database: it answers 503 while the
 * database is gone and serves again, without a restart of its own, once it is back.
 */
describe("an external database (DATABASE_URL) that goes away and comes back", () => {
  it("503 with Retry-After while it is gone, served again when it returns, nothing acknowledged lost", async () => {
    const dir = await mkdtemp(join(tmpdir(), "logbook-external-outage-"));
    const dataDir = join(dir, "pg");
    let database = await startEmbeddedPostgres({ dataDir });
    const databaseUrl = await database.ensureAppDatabase("logbook");
    const serverHome = join(dir, "home");
    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
    const logs: string[] = [];
    const server = spawn(process.execPath, [SERVER_ENTRY], {
      env: {
        PATH: process.env.PATH,
        LOGBOOK_HOME: serverHome,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [server.stdout, server.stderr]) {
      stream?.setEncoding("utf8").on("data", (chunk: string) => logs.push(...chunk.split("\n").filter(Boolean)));
    }
    const exited = new Promise((resolve) => server.once("exit", resolve));
    try {
      const get = async (path: string, key: string) => {
        const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
        return {
          status: response.status,
          retryAfter: response.headers.get("retry-after"),
          body: await response.text(),
        };
      };
      await started(server, base, logs);
      const key = await firstStartKey(serverHome);
      const client = createLogbookClient({ url: base, apiKey: key, retry: false, batch: false });
      const acknowledged: string[] = [];
      const statuses = new Set<number | string>();
      let writing = true;
      const writer = (async () => {
        for (let n = 0; writing; n++) {
          try {
            acknowledged.push(
              ...(await client.ingest([{ externalSessionId: "external", eventType: "note", message: `n${n}` }])).ids,
            );
          } catch (error) {
            statuses.add((error as { httpStatus?: number }).httpStatus ?? "no answer");
            await sleep(20);
          }
        }
      })();
      await waitFor("10 acknowledged writes", () => acknowledged.length, {
        deadlineMs: DEADLINE_MS,
        accept: (n) => n >= 10,
      });

      await database.stop(); // fast shutdown: every connection of the server is cut
      await waitFor("/trpc/sessions.list to answer 503", async () => (await get("/trpc/sessions.list", key)).status, {
        deadlineMs: DEADLINE_MS,
        accept: (code) => code === 503,
      });
      const down = await get("/trpc/sessions.list", key);
      expect(down.retryAfter).toBe("1");
      expect((await get("/health", key)).status).toBe(503);
      expect(await ingestStatus(client, "external")).toBe(503);

      database = await startEmbeddedPostgres({ dataDir });
      await waitFor("/health to answer 200", async () => (await get("/health", key)).status, {
        deadlineMs: DEADLINE_MS,
        accept: (code) => code === 200,
      });
      const before = acknowledged.length;
      await waitFor(`${before + 10} acknowledged writes`, () => acknowledged.length, {
        deadlineMs: DEADLINE_MS,
        accept: (n) => n >= before + 10,
      });
      writing = false;
      await writer;

      expect(server.exitCode).toBeNull();
      // Every failure the writer saw was a 503 (none at all is possible, see above).
      expect([...statuses].filter((status) => status !== 503)).toEqual([]);
      const knex = createKnex(databaseUrl);
      try {
        const stored = await knex("events").whereIn("id", acknowledged).count<Array<{ count: number }>>("* as count");
        expect(Number(stored[0]?.count)).toBe(acknowledged.length);
      } finally {
        await knex.destroy();
      }
      expect(logs.join("\n")).toMatch(/database available again/);
      expect(logs.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
    } finally {
      server.kill("SIGTERM");
      await exited;
      await database.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
