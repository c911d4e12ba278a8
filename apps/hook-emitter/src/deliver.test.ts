import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { deadPort, FakeServer, runBinary, tempDir } from "../test/helpers.js";
import { deliver, type DeliverOptions, stopDeliverer } from "./deliver.js";
import { uuidv7 } from "./ids.js";
import { acquireLock, DELIVER_LOCK_FILE, liveLockHolder, lockHeldByLiveProcess } from "./lock.js";
import { envelopeText, listSpool, spoolEvent } from "./spool.js";

/**
 * The resident deliverer, in process (its loop) and as the built binary starts it (a hook in
 * the default `background` mode). The server is the wire-contract stand-in (test/helpers.ts);
 * test/e2e.test.ts runs the same path against the real server.
 */

/** How long a wait here may take before it fails naming what never came (not a timing assertion). */
const DEADLINE_MS = 15_000;

let sequence = 0;
function spoolSome(spoolDir: string, count: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = uuidv7(Date.now() + sequence++);
    spoolEvent(
      spoolDir,
      id,
      envelopeText(
        id,
        new Date().toISOString(),
        "m",
        JSON.stringify({ session_id: "s-1", hook_event_name: "PreToolUse", i }),
      ),
    );
    ids.push(id);
  }
  return ids;
}

let fake: FakeServer;
let home: string;
let spoolDir: string;
let logged: string[];
const options = (extra: Partial<DeliverOptions> = {}): DeliverOptions => ({
  idleMs: 300,
  target: () => ({ url: fake.url, apiKey: "k" }),
  log: (level, message) => logged.push(`${level} ${message}`),
  ...extra,
});

beforeEach(async () => {
  fake = new FakeServer();
  await fake.start();
  home = tempDir("deliver");
  spoolDir = join(home, "spool");
  logged = [];
});
afterEach(async () => {
  // A deliverer the binary started must not outlive its test.
  const pid = liveLockHolder(spoolDir, DELIVER_LOCK_FILE);
  if (pid !== undefined && pid !== process.pid) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await fake.stop();
});

describe("deliver (the loop)", () => {
  it("sends what is spooled and what lands while it runs, in capture order, then exits when idle and lets its lock go", async () => {
    const first = spoolSome(spoolDir, 5);
    const running = deliver(spoolDir, options({ idleMs: 1_000 }));
    await waitFor("first five stored", () => fake.stored.length, {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (n) => n === 5,
    });
    const later = spoolSome(spoolDir, 5);
    const result = await running;
    expect(result).toMatchObject({ end: "idle", accepted: 10, duplicates: 0, rejected: 0, remaining: 0 });
    expect(fake.stored).toEqual([...first, ...later]);
    expect(existsSync(join(spoolDir, DELIVER_LOCK_FILE))).toBe(false);
    expect(logged).toEqual([]);
  });

  it("is alone: while another process holds the deliverer's lock it sends nothing and ends as busy", async () => {
    spoolSome(spoolDir, 3);
    const other = expectDefined(acquireLock(spoolDir, DELIVER_LOCK_FILE));
    expect(await deliver(spoolDir, options())).toMatchObject({ end: "busy", accepted: 0, remaining: 3 });
    expect(fake.received).toEqual([]);
    other.release();
  });

  it("keeps retrying while the server is down and sends once it is back, without any new event", async () => {
    const port = await deadPort();
    const down = `http://127.0.0.1:${port}`;
    const ids = spoolSome(spoolDir, 3);
    const stop = new AbortController();
    const running = deliver(
      spoolDir,
      options({ idleMs: 60_000, maxRetryMs: 200, target: () => ({ url: down, apiKey: "k" }), signal: stop.signal }),
    );
    await waitFor("the outage logged", () => [...logged], {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (lines) => lines.some((line) => line.startsWith("warn deliver:")),
    });
    await fake.stop();
    fake = new FakeServer();
    await fake.start(port);
    await waitFor("stored after the server came back", () => fake.stored.length, {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (n) => n === 3,
    });
    stop.abort();
    expect(await running).toMatchObject({ end: "stopped", accepted: 3, remaining: 0 });
    expect(fake.stored).toEqual(ids);
    // one warning for the outage, one note when it ended; not a line per attempt
    expect(logged.filter((line) => line.includes("deliver:"))).toHaveLength(2);
    expect(logged[1]).toMatch(/^info deliver: sending again/);
  });

  it("gives up after idleMs without a successful send, leaving the events spooled for the next deliverer", async () => {
    const down = `http://127.0.0.1:${await deadPort()}`;
    spoolSome(spoolDir, 2);
    const result = await deliver(
      spoolDir,
      options({ idleMs: 400, maxRetryMs: 100, target: () => ({ url: down, apiKey: "k" }) }),
    );
    expect(result).toMatchObject({ end: "idle", accepted: 0, remaining: 2 });
    expect(logged.at(-1)).toMatch(/^warn deliver: nothing sent for \d+ s; exiting with 2 event\(s\) spooled/);
    expect(existsSync(join(spoolDir, DELIVER_LOCK_FILE))).toBe(false);
  });

  it("reads its target before every attempt: a key fixed while it waits is used", async () => {
    fake.respond = (request) =>
      request.headers.authorization === "Bearer good"
        ? undefined
        : { status: 401, body: { error: { message: "bad key" } } };
    let key = "bad";
    const ids = spoolSome(spoolDir, 2);
    const running = deliver(
      spoolDir,
      options({ idleMs: 1_000, maxRetryMs: 100, target: () => ({ url: fake.url, apiKey: key }) }),
    );
    await waitFor("the refusal logged", () => [...logged], {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (lines) => lines.some((line) => line.includes("refused the API key")),
    });
    expect(fake.stored).toEqual([]);
    key = "good";
    await waitFor("stored with the new key", () => fake.stored.length, {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (n) => n === 2,
    });
    expect(fake.stored).toEqual(ids);
    expect((await running).end).toBe("idle");
  });

  it("waits while a `logbook-hook flush` holds the flush lock, then sends what is left", async () => {
    const ids = spoolSome(spoolDir, 3);
    const flushing = expectDefined(acquireLock(spoolDir)); // the flush lock, as a person's flush holds it
    // The target is read before every attempt: two reads mean the first attempt was turned
    // away by the lock and the deliverer came round again.
    let attempts = 0;
    const running = deliver(
      spoolDir,
      options({
        idleMs: 3_000,
        target: () => {
          attempts++;
          return { url: fake.url, apiKey: "k" };
        },
      }),
    );
    await waitFor("a second attempt (or a request)", () => ({ attempts, received: fake.received.length }), {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (seen) => seen.attempts >= 2 || seen.received > 0,
    });
    expect(fake.received).toEqual([]);
    flushing.release();
    await waitFor("stored once the lock was free", () => fake.stored.length, {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (n) => n === 3,
    });
    expect(fake.stored).toEqual(ids);
    expect((await running).end).toBe("idle");
    expect(logged).toEqual([]);
  });

  it("keeps its lock alive while one long drain is in flight (not only between flushes)", async () => {
    // The server holds the request until the lock has been marked alive meanwhile.
    let answer: () => void = () => undefined;
    fake.hold = new Promise<void>((resolve) => (answer = resolve));
    const ids = spoolSome(spoolDir, 2);
    const lockPath = join(spoolDir, DELIVER_LOCK_FILE);
    const running = deliver(spoolDir, options({ idleMs: 300, refreshLockMs: 100 }));
    await waitFor("the request in flight", () => fake.received.length, {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (n) => n === 1,
    });
    const first = statSync(lockPath).mtimeMs;
    await waitFor("the lock marked alive while the request is held", () => statSync(lockPath).mtimeMs, {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (mtime) => mtime > first,
    });
    expect(fake.stored).toEqual([]); // still in flight
    answer();
    expect(await running).toMatchObject({ end: "idle", accepted: 2 });
    expect(fake.stored).toEqual(ids);
  });

  it("ends as lost-lock when its lock was taken over as stale", async () => {
    spoolSome(spoolDir, 1);
    const running = deliver(spoolDir, options({ idleMs: 60_000, refreshLockMs: 50 }));
    await waitFor("stored", () => fake.stored.length, { deadlineMs: DEADLINE_MS, everyMs: 25, accept: (n) => n === 1 });
    // Another process judged it dead and took the role (as after a stall of minutes).
    writeFileSync(
      join(spoolDir, DELIVER_LOCK_FILE),
      JSON.stringify({ pid: process.pid, host: "elsewhere", token: "theirs" }),
    );
    expect((await running).end).toBe("lost-lock");
  });

  it("ends when its spool directory is removed", async () => {
    spoolSome(spoolDir, 1);
    const running = deliver(spoolDir, options({ idleMs: 60_000, pollMs: 50 }));
    await waitFor("stored", () => fake.stored.length, { deadlineMs: DEADLINE_MS, everyMs: 25, accept: (n) => n === 1 });
    rmSync(home, { recursive: true, force: true });
    expect((await running).end).toBe("gone");
  });
});

describe("a hook in background mode (the default)", () => {
  const backgroundEnv = (url: string, extra: Record<string, string | undefined> = {}) => ({
    LOGBOOK_HOME: home,
    LOGBOOK_URL: url,
    LOGBOOK_API_KEY: "k",
    LOGBOOK_NO_BACKGROUND_FLUSH: undefined,
    ...extra,
  });

  it("spools, starts one deliverer that sends every event in capture order; status shows it; SIGTERM stops it cleanly", async () => {
    const env = backgroundEnv(fake.url, { LOGBOOK_DELIVER_IDLE_MS: "60000" });
    for (let n = 0; n < 8; n++) {
      const r = await runBinary([], {
        stdin: JSON.stringify({ session_id: "s-bg", hook_event_name: "PreToolUse", n }),
        env,
      });
      expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    }
    await waitFor("all eight stored", () => fake.stored.length, {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (n) => n === 8,
    });
    const order = fake.received
      .filter((q) => q.path === "/trpc/hooks.ingest")
      .flatMap((q) =>
        (JSON.parse(q.body) as { events: Array<{ payload: { n: number } }> }).events.map((e) => e.payload.n),
      );
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(fake.received.some((q) => q.path === "/hooks/claude-code")).toBe(false);
    // the server stores before it answers, and the deliverer deletes a file only once answered
    await waitFor("the spool emptied after the acknowledgement", () => listSpool(spoolDir), {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (files) => files.length === 0,
    });

    const status = await runBinary(["status", "--json"], { env });
    expect(JSON.parse(status.stdout)).toMatchObject({ delivery: "background", spool: { delivering: true, events: 0 } });
    expect(liveLockHolder(spoolDir, DELIVER_LOCK_FILE)).toEqual(expect.any(Number)); // the binary's deliverer, not us
    expect(stopDeliverer(spoolDir)).toBe(true);
    await waitFor("the deliverer stopped by SIGTERM", () => lockHeldByLiveProcess(spoolDir, DELIVER_LOCK_FILE), {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (held) => !held,
    });
    expect(existsSync(join(spoolDir, DELIVER_LOCK_FILE))).toBe(false);
    expect(stopDeliverer(spoolDir)).toBe(false); // nothing left to stop
  });

  it("server down: the event waits in the spool and is sent by the deliverer when the server comes back", async () => {
    const port = await deadPort();
    const env = backgroundEnv(`http://127.0.0.1:${port}`, { LOGBOOK_DELIVER_IDLE_MS: "60000" });
    expect(
      await runBinary([], { stdin: JSON.stringify({ session_id: "s-down", hook_event_name: "Stop" }), env }),
    ).toMatchObject({ code: 0, stdout: "" });
    expect(listSpool(spoolDir)).toHaveLength(1);
    await waitFor("a deliverer running", () => lockHeldByLiveProcess(spoolDir, DELIVER_LOCK_FILE), {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (held) => held,
    });
    await fake.stop();
    fake = new FakeServer();
    await fake.start(port);
    await waitFor("stored after the server came back", () => fake.stored.length, {
      deadlineMs: 30_000,
      everyMs: 25,
      accept: (n) => n === 1,
    });
    await waitFor("the spool emptied after the acknowledgement", () => listSpool(spoolDir), {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (files) => files.length === 0,
    });
  });

  it("twenty hooks at once: every event sent and stored exactly once; the deliverer exits when idle", async () => {
    const env = backgroundEnv(fake.url, { LOGBOOK_DELIVER_IDLE_MS: "500" });
    const runs = Array.from({ length: 20 }, (_, n) =>
      runBinary([], { stdin: JSON.stringify({ session_id: `s-${n % 3}`, hook_event_name: "PostToolUse", n }), env }),
    );
    for (const r of await Promise.all(runs)) expect(r).toMatchObject({ code: 0, stdout: "" });
    await waitFor("all twenty stored", () => fake.stored.length, {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (n) => n === 20,
    });
    await waitFor("the deliverer gone after its idle time", () => existsSync(join(spoolDir, DELIVER_LOCK_FILE)), {
      deadlineMs: DEADLINE_MS,
      everyMs: 25,
      accept: (held) => !held,
    });
    const sent = fake.received
      .filter((q) => q.path === "/trpc/hooks.ingest")
      .flatMap((q) => (JSON.parse(q.body) as { events: Array<{ id: string }> }).events.map((e) => e.id));
    expect(new Set(sent).size).toBe(20);
    expect(sent).toHaveLength(20); // no batch was sent twice
    expect(listSpool(spoolDir)).toEqual([]);
  });

  it("without an API key: spooled, no deliverer started, the reason logged", async () => {
    const r = await runBinary([], {
      stdin: JSON.stringify({ session_id: "s-nokey", hook_event_name: "Stop" }),
      env: backgroundEnv(fake.url, { LOGBOOK_API_KEY: undefined, HOME: home }),
    });
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(listSpool(spoolDir)).toHaveLength(1);
    expect(existsSync(join(spoolDir, DELIVER_LOCK_FILE))).toBe(false);
    expect(readFileSync(join(home, "logs", "hook.log"), "utf8")).toMatch(/error event .*: no API key .*: spooled/);
  });

  it("LOGBOOK_HOOK_DELIVERY=direct: the hook posts the event itself and starts nothing", async () => {
    const r = await runBinary([], {
      stdin: JSON.stringify({ session_id: "s-direct", hook_event_name: "Stop" }),
      env: backgroundEnv(fake.url, { LOGBOOK_HOOK_DELIVERY: "direct" }),
    });
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(fake.received.map((q) => q.path)).toEqual(["/hooks/claude-code"]);
    expect(fake.stored).toHaveLength(1);
    expect(existsSync(join(spoolDir, DELIVER_LOCK_FILE))).toBe(false);
    const status = await runBinary(["status", "--json"], {
      env: backgroundEnv(fake.url, { LOGBOOK_HOOK_DELIVERY: "direct" }),
    });
    expect(JSON.parse(status.stdout)).toMatchObject({ delivery: "direct", spool: { delivering: false } });
  });
});
