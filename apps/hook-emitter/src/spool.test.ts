import { spawn } from "node:child_process";
import { readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { BINARY, deadPort, type FakeServer, runBinary, useFakeServerAndHome } from "../test/helpers.js";
import { uuidv7 } from "./ids.js";
import { flushSpool } from "./flush.js";
import { acquireLock, liveLockHolder, LOCK_FILE, LOCK_STALE_MS, stopLockHolder } from "./lock.js";
import { envelopeText, listSpool, spoolEvent } from "./spool.js";

/**
 * Spool mechanics. The server here is a stand-in that implements only the emitter's wire
 * contract (test/helpers.ts): these are unit tests of ordering, atomicity and locking. The
 * proof against the real Logbook server is test/e2e.test.ts.
 */

const payload = (n: number) => ({ session_id: "s-1", hook_event_name: "PreToolUse", n });

/** Spools `count` events directly, ids in capture order. */
function fillSpool(spoolDir: string, count: number): string[] {
  const ids: string[] = [];
  const start = Date.now() - count;
  for (let i = 0; i < count; i++) {
    const id = uuidv7(start + i);
    spoolEvent(spoolDir, id, envelopeText(id, new Date(start + i).toISOString(), "m", JSON.stringify(payload(i))));
    ids.push(id);
  }
  return ids;
}

/** Ids of all events the server received, in order, duplicates included. */
function sentIds(fake: FakeServer): string[] {
  return fake.received.flatMap((q) =>
    q.path === "/trpc/hooks.ingest"
      ? (JSON.parse(q.body) as { events: Array<{ id: string }> }).events.map((e) => e.id)
      : [],
  );
}

const t = useFakeServerAndHome("spool");

describe("spool files", () => {
  it("are written atomically and named so that lexical order is capture order", async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const sent: number[] = [];
    for (let n = 0; n < 12; n++) {
      const r = await runBinary([], {
        stdin: JSON.stringify(payload(n)),
        env: { LOGBOOK_HOME: t.home, LOGBOOK_URL: url, LOGBOOK_API_KEY: "k" },
      });
      expect(r).toMatchObject({ code: 0, stdout: "" });
      sent.push(n);
    }
    const names = listSpool(t.spoolDir);
    expect(names).toHaveLength(12);
    const order = names.map(
      (name) => (JSON.parse(readFileSync(join(t.spoolDir, name), "utf8")) as { payload: { n: number } }).payload.n,
    );
    expect(order).toEqual(sent);
    expect(readdirSync(join(t.spoolDir, "tmp"))).toEqual([]);
    for (const name of names) {
      const envelope = JSON.parse(readFileSync(join(t.spoolDir, name), "utf8")) as Record<string, unknown>;
      expect(Object.keys(envelope)).toEqual(["id", "occurredAt", "machineId", "payload"]);
      expect(`${String(envelope.id)}.json`).toBe(name);
      expect(envelope.machineId).toBe(hostname());
    }
  });
});

describe("flush", () => {
  it("sends in capture order, in batches of at most 1000, and empties the spool", async () => {
    const ids = fillSpool(t.spoolDir, 1200);
    const result = await flushSpool(t.spoolDir, { url: t.fake.url, apiKey: "k" }, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ stop: "empty", accepted: 1200, duplicates: 0, rejected: 0, remaining: 0 });
    const batches = t.fake.received.map((q) => (JSON.parse(q.body) as { events: unknown[] }).events.length);
    expect(batches).toEqual([1000, 200]);
    expect(sentIds(t.fake)).toEqual(ids);
    expect(expectDefined(t.fake.received[0]).headers["authorization"]).toBe("Bearer k");
  });

  it("keeps what the server did not acknowledge, and sends it once it is back", async () => {
    const ids = fillSpool(t.spoolDir, 30);
    let calls = 0;
    t.fake.respond = () => (++calls === 2 ? { status: 503, body: { error: { message: "busy" } } } : undefined);
    const first = await flushSpool(
      t.spoolDir,
      { url: t.fake.url, apiKey: "k" },
      { timeoutMs: 10_000, maxBatchEvents: 10 },
    );
    expect(first).toMatchObject({ stop: "unavailable", accepted: 10, remaining: 20 });
    expect(listSpool(t.spoolDir)).toEqual(ids.slice(10).map((id) => `${id}.json`));
    t.fake.respond = () => undefined;
    const second = await flushSpool(
      t.spoolDir,
      { url: t.fake.url, apiKey: "k" },
      { timeoutMs: 10_000, maxBatchEvents: 10 },
    );
    expect(second).toMatchObject({ stop: "empty", accepted: 20, remaining: 0 });
    expect(t.fake.stored).toEqual(ids);
  });

  it("a lost answer makes a re-send, which the server counts as duplicates; each file is deleted once acknowledged", async () => {
    const ids = fillSpool(t.spoolDir, 5);
    t.fake.respond = (q) => {
      // store, then answer as if it failed
      const events = (JSON.parse(q.body) as { events: Array<{ id: string }> }).events;
      for (const event of events) t.fake.store(event.id);
      return { status: 502 };
    };
    expect((await flushSpool(t.spoolDir, { url: t.fake.url, apiKey: "k" }, { timeoutMs: 10_000 })).remaining).toBe(5);
    t.fake.respond = () => undefined;
    const again = await flushSpool(t.spoolDir, { url: t.fake.url, apiKey: "k" }, { timeoutMs: 10_000 });
    expect(again).toMatchObject({ stop: "empty", accepted: 0, duplicates: 5, remaining: 0 });
    expect(t.fake.stored).toEqual(ids);
  });

  it("a refused event is isolated by splitting the batch: it goes to rejected/, the others are sent in order", async () => {
    const ids = fillSpool(t.spoolDir, 9);
    const bad = expectDefined(ids[5]);
    t.fake.respond = (q) =>
      q.body.includes(bad) ? { status: 400, body: { error: { message: "bad payload", code: -32600 } } } : undefined;
    const result = await flushSpool(t.spoolDir, { url: t.fake.url, apiKey: "k" }, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ stop: "empty", accepted: 8, rejected: 1, remaining: 0 });
    expect(t.fake.stored).toEqual(ids.filter((id) => id !== bad));
    expect(readdirSync(join(t.spoolDir, "rejected")).sort()).toEqual([`${bad}.json`, `${bad}.json.reason`, "tmp"]);
    expect(readFileSync(join(t.spoolDir, "rejected", `${bad}.json.reason`), "utf8")).toMatch(
      /the server refused it \(HTTP 400: bad payload\)/,
    );
  });

  it("a spool file that is not an envelope (truncated) is set aside without blocking the rest", async () => {
    const ids = fillSpool(t.spoolDir, 3);
    writeFileSync(join(t.spoolDir, `${ids[1]}.json`), '{"id":"');
    const result = await flushSpool(t.spoolDir, { url: t.fake.url, apiKey: "k" }, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ stop: "empty", accepted: 2, remaining: 0 });
    expect(readdirSync(join(t.spoolDir, "rejected")).filter((name) => name.endsWith(".json"))).toEqual([
      `${ids[1]}.json`,
    ]);
  });

  it("401 stops the flush and keeps everything", async () => {
    fillSpool(t.spoolDir, 4);
    t.fake.respond = () => ({ status: 401, body: { error: { message: "bad key" } } });
    const result = await flushSpool(t.spoolDir, { url: t.fake.url, apiKey: "k" }, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ stop: "unauthorized", remaining: 4 });
  });
});

describe("the flush lock", () => {
  it("only one holder at a time; released, it can be taken again", () => {
    const first = acquireLock(t.spoolDir);
    expect(first).toBeDefined();
    expect(acquireLock(t.spoolDir)).toBeUndefined();
    expectDefined(first).release();
    const second = acquireLock(t.spoolDir);
    expect(second).toBeDefined();
    expectDefined(second).release();
  });

  it("a live holder's lock is respected: a quiet flush leaves the spool alone", async () => {
    fillSpool(t.spoolDir, 3);
    const lock = expectDefined(acquireLock(t.spoolDir));
    const r = await runBinary(["flush", "--quiet"], {
      env: { LOGBOOK_HOME: t.home, LOGBOOK_URL: t.fake.url, LOGBOOK_API_KEY: "k" },
    });
    lock.release();
    expect(r.code).toBe(1);
    expect(listSpool(t.spoolDir)).toHaveLength(3);
    expect(t.fake.received).toEqual([]);
  });

  it("a lock left by a dead process is taken over", async () => {
    const ids = fillSpool(t.spoolDir, 3);
    const dead = spawn(process.execPath, ["-e", "0"]);
    await new Promise((done) => dead.on("exit", done));
    writeFileSync(join(t.spoolDir, LOCK_FILE), JSON.stringify({ pid: dead.pid, host: hostname(), token: "x" }));
    const r = await runBinary(["flush"], {
      env: { LOGBOOK_HOME: t.home, LOGBOOK_URL: t.fake.url, LOGBOOK_API_KEY: "k" },
    });
    expect(r.code).toBe(0);
    expect(t.fake.stored).toEqual(ids);
  });

  it("a lock nobody refreshed for too long is taken over even if its pid exists", async () => {
    const ids = fillSpool(t.spoolDir, 2);
    const path = join(t.spoolDir, LOCK_FILE);
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname(), token: "x" }));
    const old = new Date(Date.now() - LOCK_STALE_MS - 60_000);
    utimesSync(path, old, old);
    const result = await flushSpool(t.spoolDir, { url: t.fake.url, apiKey: "k" }, { timeoutMs: 10_000 });
    expect(result.stop).toBe("empty");
    expect(t.fake.stored).toEqual(ids);
  });

  it("names its live holder on this host, and never the pid of a dead, stale or foreign holder", async () => {
    const path = join(t.spoolDir, LOCK_FILE);
    expect(liveLockHolder(t.spoolDir, LOCK_FILE)).toBeUndefined(); // no lock
    const lock = expectDefined(acquireLock(t.spoolDir));
    expect(liveLockHolder(t.spoolDir, LOCK_FILE)).toBe(process.pid);
    lock.release();
    const dead = spawn(process.execPath, ["-e", "0"]);
    await new Promise((done) => dead.on("exit", done));
    writeFileSync(path, JSON.stringify({ pid: dead.pid, host: hostname(), token: "x" }));
    expect(liveLockHolder(t.spoolDir, LOCK_FILE)).toBeUndefined();
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: "another-host", token: "x" }));
    expect(liveLockHolder(t.spoolDir, LOCK_FILE)).toBeUndefined();
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname(), token: "x" }));
    const old = new Date(Date.now() - LOCK_STALE_MS - 60_000);
    utimesSync(path, old, old);
    expect(liveLockHolder(t.spoolDir, LOCK_FILE)).toBeUndefined();
  });

  it("stops the live holder of a lock (SIGTERM), never itself, a foreign or a missing one", async () => {
    const path = join(t.spoolDir, LOCK_FILE);
    expect(stopLockHolder(t.spoolDir, LOCK_FILE)).toBe(false); // no lock
    const lock = expectDefined(acquireLock(t.spoolDir));
    expect(stopLockHolder(t.spoolDir, LOCK_FILE)).toBe(false); // held by this process
    lock.release();
    const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
    const exited = new Promise<NodeJS.Signals | null>((done) => holder.on("exit", (_code, signal) => done(signal)));
    writeFileSync(path, JSON.stringify({ pid: holder.pid, host: "another-host", token: "x" }));
    expect(stopLockHolder(t.spoolDir, LOCK_FILE)).toBe(false); // not on this host
    writeFileSync(path, JSON.stringify({ pid: holder.pid, host: hostname(), token: "x" }));
    expect(stopLockHolder(t.spoolDir, LOCK_FILE)).toBe(true);
    expect(await exited).toBe("SIGTERM");
  });

  it("concurrent flushers send every event exactly once, in capture order", async () => {
    const ids = fillSpool(t.spoolDir, 600);
    const env = { ...process.env, LOGBOOK_HOME: t.home, LOGBOOK_URL: t.fake.url, LOGBOOK_API_KEY: "k" };
    const runs = Array.from(
      { length: 6 },
      () =>
        new Promise<number | null>((done) => {
          // small batches so the flushers really overlap
          const child = spawn(process.execPath, [BINARY, "flush"], {
            env: { ...env, LOGBOOK_NO_BACKGROUND_FLUSH: "1" },
            stdio: "ignore",
          });
          child.on("close", done);
        }),
    );
    await Promise.all([
      ...runs,
      flushSpool(t.spoolDir, { url: t.fake.url, apiKey: "k" }, { timeoutMs: 10_000, maxBatchEvents: 7 }),
    ]);
    expect(sentIds(t.fake)).toEqual(ids);
    expect(listSpool(t.spoolDir)).toEqual([]);
  });
});

describe("recording with a non-empty spool", () => {
  it("queues the new event behind the spooled ones and sends them all in order", async () => {
    const ids = fillSpool(t.spoolDir, 4);
    const r = await runBinary([], {
      stdin: JSON.stringify(payload(99)),
      // A budget a loaded machine's slow answer fits in: the hook's timeout is not under test here.
      env: { LOGBOOK_HOME: t.home, LOGBOOK_URL: t.fake.url, LOGBOOK_API_KEY: "k", LOGBOOK_HOOK_TIMEOUT_MS: "30000" },
    });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(t.fake.received.map((q) => q.path)).toEqual(["/trpc/hooks.ingest"]);
    const sent = sentIds(t.fake);
    expect(sent.slice(0, 4)).toEqual(ids);
    expect(sent).toHaveLength(5);
    expect(listSpool(t.spoolDir)).toEqual([]);
  });
});
