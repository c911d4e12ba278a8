/**
 * Plain GET queries (one call, not batched, from a key verified a moment ago) are answered
 * without tRPC's HTTP adapter (src/plain-query.ts): the adapter's answer, success or error,
 * with a content length instead of a chunked body; each query runs at most once, also when
 * it fails; anything else is the adapter's, untouched.
 *
 * Which path answered shows in the framing: the adapter always sends a chunked body, the
 * plain path a `content-length`. The adapter's answer to the same request is had by adding
 * `trpc-accept: application/json`, which keeps a request off the plain path.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createKnex, startEmbeddedPostgres } from "@logbook/db";
import { databaseUrlFor } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { startTestServer } from "../testing/index.js";
import { startHarness, type Harness } from "./harness.js";

/**
 * Every wait here is for a condition, bounded by this deadline: one that never comes (a
 * request the server never answers, a log line never written) fails its test with what it
 * waited for instead of hanging to the test's timeout. Not a timing assertion: nothing
 * that works takes more than a fraction of it.
 */
const DEADLINE_MS = 60_000;

/** `promise`, or a failure naming `what` after the deadline. */
async function within<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`gave up after ${DEADLINE_MS / 1000} s waiting for ${what}`)),
      DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const query = (path: string, input?: unknown) =>
  `/trpc/${path}${input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`}`;

interface Answer {
  status: number;
  contentType: string | null;
  vary: string | null;
  retryAfter: string | null;
  allow: string | null;
  body: string;
}

async function answerOf(response: Response): Promise<Answer> {
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    vary: response.headers.get("vary"),
    retryAfter: response.headers.get("retry-after"),
    allow: response.headers.get("allow"),
    body: await response.text(),
  };
}

/** How the body came: "length" (the plain path) or "chunked" (the adapter). */
function framing(response: Response, body: string): "length" | "chunked" | "other" {
  if (response.headers.get("transfer-encoding") === "chunked") return "chunked";
  return response.headers.get("content-length") === String(Buffer.byteLength(body)) ? "length" : "other";
}

type Entry = Record<string, unknown>;

/**
 * The server's log as it comes. A request's own log line (written when its answer has been
 * sent, so possibly after the client has read it) is found by the id the test sent with it
 * (`X-Request-Id`), never by counting lines after a mark: the previous request's line may
 * still be on its way.
 */
class ServerLog {
  readonly lines: string[] = [];
  readonly entries: Entry[] = [];
  private readonly listeners = new Set<() => void>();

  readonly push = (line: string): void => {
    this.lines.push(line);
    let entry: Entry = {};
    try {
      entry = JSON.parse(line) as Entry;
    } catch {
      // Not pino's JSON (e.g. PostgreSQL's own lines): kept in `lines` for failure messages only.
    }
    this.entries.push(entry);
    for (const listener of this.listeners) listener();
  };

  /** The index of the first entry from `from` on that `match` accepts, once it is written. */
  find(what: string, match: (entry: Entry) => boolean, from = 0): Promise<number> {
    const found = () => {
      const index = this.entries.findIndex((entry, i) => i >= from && match(entry));
      return index === -1 ? null : index;
    };
    const now = found();
    if (now !== null) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const listener = () => {
        const index = found();
        if (index === null) return;
        done();
        resolve(index);
      };
      const timer = setTimeout(() => {
        done();
        const tail = this.lines.slice(Math.max(from, this.lines.length - 20)).join("\n");
        reject(new Error(`gave up after ${DEADLINE_MS / 1000} s waiting for ${what}; the log since:\n${tail}`));
      }, DEADLINE_MS);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
    });
  }
}

/** `onError` calls for `path` among `entries` (logApiError writes one line for each). */
const errorReports = (entries: Entry[], path: string) =>
  entries.filter((l) => (l.msg === "request refused" || l.msg === "internal error") && l.path === path);

/** A request sent by `send`, answered, and its log line written. */
interface Sent {
  response: Response;
  answer: Answer;
  framing: ReturnType<typeof framing>;
  /**
   * The server's log entries of this request: from when it was sent to its own request line.
   * Every earlier `send` waited for its own line, so nothing of an earlier request is here;
   * what a request logs (onError, a failed authentication) comes before its request line.
   */
  entries: Entry[];
}

/** Sends a GET tagged with a request id of its own (or the one given), reads the answer, waits for its log line. */
async function send(
  log: ServerLog,
  url: string,
  key: string | null,
  headers: Record<string, string> = {},
): Promise<Sent> {
  const id = headers["x-request-id"] ?? randomUUID();
  const from = log.entries.length;
  const response = await within(
    `the answer to GET ${url}`,
    fetch(url, {
      headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers, "x-request-id": id },
    }),
  );
  const answer = await within(`the body of GET ${url}`, answerOf(response));
  const line = await log.find(
    `the request line of GET ${url} (request id ${id})`,
    (entry) => entry.msg === "request" && entry.requestId === id,
    from,
  );
  return { response, answer, framing: framing(response, answer.body), entries: log.entries.slice(from, line + 1) };
}

/**
 * Long enough that a key verified at the start of a test is still remembered at its end on
 * a machine as loaded as it gets: which path answers must not depend on how long a test took.
 */
const KEY_CACHE_MS = "600000";

describe("GET /trpc/<query> on the plain path", () => {
  let h: Harness;
  let sessionId: string;
  const log = new ServerLog();
  let reader: string;
  let ingestOnly: string;

  beforeAll(async () => {
    h = await startHarness({ env: { LOG_LEVEL: "debug", API_KEY_CACHE_MS: KEY_CACHE_MS }, onLog: log.push });
    const created = await h.client.events.ingest.mutate({
      events: Array.from({ length: 3 }, (_, i) => ({
        externalSessionId: "plain-get",
        eventType: "tool",
        payload: { i, text: "é ünïcode", nested: { list: [1, 2, 3] } },
      })),
    });
    expect(created.accepted).toBe(3);
    sessionId = (await h.client.sessions.get.query({ externalId: "plain-get" })).id;
    reader = h.server.apiKey;
    ingestOnly = (await h.admin.apiKeys.create.mutate({ name: "ingest only", scopes: ["ingest"] })).secret;
  });
  afterAll(() => h?.stop());

  const get = (path: string, key: string | null, headers: Record<string, string> = {}) =>
    send(log, `${h.server.url}${path}`, key, headers);
  /** Puts `key` in the server's cache of verified keys (any valid key may ask whoami). */
  const warm = async (key: string) => {
    expect((await get(query("auth.whoami"), key)).answer.status).toBe(200);
  };
  /** The adapter's answer to the same request: `trpc-accept` keeps it off the plain path. */
  const viaAdapter = (path: string, key: string | null) => get(path, key, { "trpc-accept": "application/json" });

  /** The request as given, and the adapter's answer to it; the key warmed first. */
  async function bothWays(path: string, key: string | null = reader) {
    if (key !== null) await warm(key);
    const direct = await get(path, key);
    const adapter = await viaAdapter(path, key);
    return { direct, adapter };
  }

  it("answers a query as the adapter does, with a content length instead of a chunked body", async () => {
    for (const path of [
      query("auth.whoami"),
      query("events.listForSession", { sessionId, limit: 2 }),
      query("events.listSummariesForSession", { sessionId, limit: 10, afterSeq: 1 }),
      query("sessions.list", { limit: 5 }),
      query("sessions.list"),
    ]) {
      const { direct, adapter } = await bothWays(path);
      expect(direct.answer, path).toEqual(adapter.answer);
      expect(direct.answer.status, path).toBe(200);
      expect(direct.framing, path).toBe("length");
      expect(adapter.framing, path).toBe("chunked");
    }
  });

  it("writes a timeline's payloads from their stored text, byte for byte the adapter's answer", async () => {
    const payloads = [
      { text: 'é ünïcode 😀 中文 \u2028 \u001f \u007f \t\n\r\b\f " \\ /', "a, b": "c: d" },
      { nested: { deeper: { list: [1, -2, 3.5, -0.25, 0.000001, 1e-7, 1e21, 2 ** 53, { x: [{ y: null }] }] } } },
      { "10": "digit keys", "2": true, b: false, a: [], e: {} },
      JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>,
    ];
    await h.client.events.ingest.mutate({
      events: payloads.map((payload) => ({ externalSessionId: "plain-get-payloads", eventType: "tool", payload })),
    });
    const id = (await h.client.sessions.get.query({ externalId: "plain-get-payloads" })).id;
    // Numbers a client cannot send (JSON.parse would change them), as jsonb keeps them.
    await h.db.knex.raw("UPDATE events SET payload = ?::jsonb WHERE session_id = ? AND seq = 1", [
      '{"money": 1.50, "big": 12345678901234567890, "text": "a, b: c"}',
      id,
    ]);
    for (const input of [
      { sessionId: id, limit: 10 },
      { sessionId: id, limit: 2, afterSeq: 1 },
    ]) {
      const path = query("events.listForSession", input);
      const { direct, adapter } = await bothWays(path);
      expect(direct.framing, path).toBe("length");
      expect(direct.answer, path).toEqual(adapter.answer);
    }
    // Through the SDK: the payloads as they were sent (the first as the database keeps it, parsed).
    const page = await h.clientFor(reader, { batch: false }).events.listForSession.query({ sessionId: id, limit: 10 });
    expect(page.items.map((e) => e.payload)).toEqual([
      { money: 1.5, big: Number("12345678901234567890"), text: "a, b: c" },
      ...payloads.slice(1),
    ]);
  });

  it("answers a query's errors itself, as the adapter does, and reports each once", async () => {
    const cases: Array<[string, string, number]> = [
      // Input that fails its contract, a domain error, a key without the scope.
      [query("events.listForSession", { sessionId: "not-a-uuid", limit: 2 }), reader, 400],
      [query("events.listForSession", { sessionId: randomUUID(), limit: 2 }), reader, 404],
      [query("sessions.list", { limit: 5 }), ingestOnly, 403],
    ];
    for (const [path, key, status] of cases) {
      const procedure = path.slice("/trpc/".length).split("?")[0] ?? "";
      await warm(key);
      const direct = await get(path, key);
      expect(direct.framing, path).toBe("length");
      // One onError call (logged by logApiError) for the one run.
      expect(errorReports(direct.entries, procedure), path).toHaveLength(1);

      const adapter = await viaAdapter(path, key);
      expect(adapter.framing, path).toBe("chunked");
      expect(errorReports(adapter.entries, procedure), path).toHaveLength(1);
      expect(direct.answer.status, path).toBe(status);
      expect(direct.answer, path).toEqual(adapter.answer);
    }
  });

  it("leaves everything else to the adapter, untouched", async () => {
    const cases: Array<[string, number]> = [
      [query("no.such.procedure"), 404],
      [query("sessions.create", { title: "by GET" }), 405],
      [`/trpc/events.listForSession?input=${encodeURIComponent("{not json")}`, 400],
      [`/trpc/auth.whoami,sessions.list?batch=1&input=${encodeURIComponent("{}")}`, 200],
    ];
    for (const [path, status] of cases) {
      const { direct, adapter } = await bothWays(path);
      expect(direct.answer.status, path).toBe(status);
      expect(direct.answer, path).toEqual(adapter.answer);
      expect(direct.framing, path).toBe("chunked");
    }
    // A GET's input is its query parameter: the refusal says which, not "the request body".
    const notJson = await get(`/trpc/events.listForSession?input=${encodeURIComponent("{not json")}`, reader);
    expect(notJson.answer.body).toContain("the input is not valid JSON (a POST's body, or a GET's `input` parameter)");
    // Nothing was created by the mutation sent as a GET.
    const titled = await h.client.sessions.list.query({ limit: 50, search: "by GET" });
    expect(titled.items).toEqual([]);
  });

  it("leaves a key not yet verified, a wrong key and no key to the adapter; a failure is counted once", async () => {
    const fresh = await h.admin.apiKeys.create.mutate({ name: "fresh reader", scopes: ["read"] });
    const first = await get(query("auth.whoami"), fresh.secret);
    expect(first.answer.status).toBe(200);
    expect(first.framing).toBe("chunked");
    expect((JSON.parse(first.answer.body) as { result: { data: { name: string } } }).result.data.name).toBe(
      "fresh reader",
    );
    // Verified now: the next one is the plain path's.
    expect((await get(query("auth.whoami"), fresh.secret)).framing).toBe("length");

    for (const key of ["lb_not_a_real_key", null]) {
      const refused = await get(query("auth.whoami"), key);
      expect(refused.answer.status).toBe(401);
      expect(refused.framing).toBe("chunked");
      const counted = refused.entries.filter((l) => l.msg === "failed authentication");
      // A wrong key is one failure for the throttle; a missing one is none.
      expect(counted).toHaveLength(key === null ? 0 : 1);
    }
  });

  it("logs a request's X-Request-Id with its request line, and leaves out one that is not a plain token", async () => {
    const ok = await get(query("auth.whoami"), reader, { "x-request-id": "client-42.a:b_c" });
    expect(ok.entries.at(-1)).toMatchObject({
      msg: "request",
      path: "/trpc/auth.whoami",
      requestId: "client-42.a:b_c",
    });
    // A path of its own (the log has the path, not the query string) finds the untagged line.
    for (const bad of ["has space", "x".repeat(129), "<script>"]) {
      const path = `/trpc/no.such.${randomUUID()}`;
      const response = await fetch(`${h.server.url}${path}`, { headers: { "x-request-id": bad } });
      expect(response.status).toBe(404);
      await response.text();
      const line = await log.find(`the request line of ${path}`, (entry) => entry.path === path);
      expect(log.entries[line]).not.toHaveProperty("requestId");
    }
  });

  describe("a query the database fails", () => {
    let held: { rollback(): Promise<unknown> } | undefined;
    /** The server's backend running the session list, once it waits for the test's lock. */
    const waitingList = async (): Promise<number | null> => {
      const rows = await h.db.knex.raw<{ rows: Array<{ pid: number }> }>(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND wait_event_type = 'Lock' AND query LIKE '%cursor_key%'`,
      );
      return rows.rows[0]?.pid ?? null;
    };
    /** What PostgreSQL says backend `pid` is doing (null once it is gone). */
    const stateOf = async (pid: number): Promise<string | null> => {
      const rows = await h.db.knex.raw<{ rows: Array<{ state: string | null }> }>(
        "SELECT state FROM pg_stat_activity WHERE pid = ?",
        [pid],
      );
      return rows.rows[0]?.state ?? null;
    };
    const lockSessions = async () => {
      await held?.rollback().catch(() => undefined); // a failed test's lock, not to be inherited
      const trx = await h.db.knex.transaction();
      held = trx;
      await trx.raw("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
    };
    afterAll(async () => {
      await held?.rollback().catch(() => undefined);
    });

    it("answers the database's error once, without running the query again", async () => {
      await warm(reader);
      await lockSessions();
      const pending = get(query("sessions.list", { limit: 5 }), reader);
      const pid = await waitFor("the session list to wait for the test's lock", waitingList, {
        deadlineMs: DEADLINE_MS,
        everyMs: 25,
        accept: (backend) => backend !== null,
      });
      // The statement fails (57014, canceled) while the lock is still held: a second run
      // would wait on the lock again, and this answer would not come.
      await h.db.knex.raw("SELECT pg_cancel_backend(?)", [pid]);
      const sent = await pending;
      expect(sent.framing).toBe("length");
      expect(sent.answer.status).toBe(503);
      expect(JSON.parse(sent.answer.body)).toMatchObject({
        error: { data: { code: "SERVICE_UNAVAILABLE", appCode: "UNAVAILABLE", path: "sessions.list" } },
      });
      expect(await waitingList()).toBeNull();
      expect(errorReports(sent.entries, "sessions.list")).toHaveLength(1);
      await held?.rollback();
      held = undefined;
    });

    it("does what the adapter does when the client goes away mid-query: runs it out, writes nothing", async () => {
      await warm(reader);
      await lockSessions();
      const from = log.entries.length;
      const client = new AbortController();
      const pending = fetch(`${h.server.url}${query("sessions.list", { limit: 5 })}`, {
        headers: { authorization: `Bearer ${reader}` },
        signal: client.signal,
      }).catch((error: unknown) => error);
      const pid = await waitFor("the session list to wait for the test's lock", waitingList, {
        deadlineMs: DEADLINE_MS,
        everyMs: 25,
        accept: (backend) => backend !== null,
      });
      client.abort();
      expect(await pending).toMatchObject({ name: "AbortError" });
      await held?.rollback();
      held = undefined;
      // The query runs out (it is not re-run): its backend goes idle, the statement done.
      const backend = pid ?? 0;
      await waitFor("the abandoned query's statement to finish", () => stateOf(backend), {
        deadlineMs: DEADLINE_MS,
        everyMs: 25,
        accept: (state) => state !== "active",
      });
      expect(await waitingList()).toBeNull();
      const next = await get(query("sessions.list", { limit: 5 }), reader);
      expect(next.answer.status).toBe(200);
      expect(next.framing).toBe("length");
      // Nothing was reported as an error, for the abandoned query or the next one.
      const since = log.entries.slice(from);
      expect(errorReports(since, "sessions.list")).toEqual([]);
      expect(since.filter((l) => Number(l.level) >= 50)).toEqual([]);
    });
  });
});

/**
 * The database going away under a query in flight on the plain path: one attempt, answered
 * 503 with Retry-After as the adapter answers it, reported once (which tells the server to
 * check the database). The earlier version ran the query again through the adapter, which
 * waited for the pool's acquire timeout a second time.
 *
 * The order is made, not hoped for: the query is seen waiting on a lock the test holds, then
 * PostgreSQL gets an immediate shutdown (SIGQUIT), whose backends exit without releasing
 * their locks, so the query can only fail. A fast shutdown (what this test first used) ends
 * the lock holder's backend too, and when that one goes first the lock is released and the
 * waiting query runs to completion before its own backend is ended: the server then rightly
 * answered 200 (seen under load, 1 run in 4).
 */
describe("GET /trpc/<query> when the database goes away mid-query", () => {
  it("answers 503 once, from the one attempt", async () => {
    const dir = await mkdtemp(join(tmpdir(), "logbook-plain-query-"));
    const log = new ServerLog();
    const database = await startEmbeddedPostgres({
      dataDir: join(dir, "pg"),
      onLog: (line) => log.push(`pg: ${line}`),
    });
    const exited = new Promise<string>((resolve) => database.onUnexpectedExit(resolve));
    // The superuser, in the app's database: takes the lock and watches the server's backend.
    const admin = createKnex(databaseUrlFor(database.connectionString, "logbook"));
    try {
      const server = await startTestServer({
        databaseUrl: await database.ensureAppDatabase("logbook"),
        // Bounds what a second attempt would wait for a connection (a failure of this test, not a hang).
        env: { LOG_LEVEL: "debug", DATABASE_ACQUIRE_TIMEOUT_MS: "5000", API_KEY_CACHE_MS: KEY_CACHE_MS },
        onLog: log.push,
      });
      try {
        const get = (path: string) => send(log, `${server.url}${path}`, server.apiKey);
        expect((await get(query("auth.whoami"))).answer.status).toBe(200);
        const lock = await admin.transaction();
        await lock.raw("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
        const pending = get(query("sessions.list", { limit: 5 }));
        await waitFor(
          "the session list to wait for the test's lock",
          async () => {
            const rows = await admin.raw<{ rows: unknown[] }>(
              `SELECT 1 FROM pg_stat_activity
                WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%cursor_key%'`,
            );
            return rows.rows.length;
          },
          { deadlineMs: DEADLINE_MS, everyMs: 25 },
        );
        const pid = database.pid;
        if (pid === null) throw new Error("PostgreSQL is not running");
        process.kill(pid, "SIGQUIT"); // immediate shutdown: every backend exits, no lock released
        await within("PostgreSQL to exit", exited);
        await lock.rollback().catch(() => undefined); // its connection is gone
        const sent = await pending;
        expect(sent.framing).toBe("length");
        expect(sent.answer.status).toBe(503);
        expect(sent.answer.retryAfter).toBe("1");
        // A second attempt would have waited for a connection and answered "the database is busy".
        expect(JSON.parse(sent.answer.body)).toMatchObject({
          error: {
            message: "the database is not available right now, try again",
            data: { code: "SERVICE_UNAVAILABLE", appCode: "UNAVAILABLE", path: "sessions.list" },
          },
        });
        expect(errorReports(sent.entries, "sessions.list")).toHaveLength(1);
        // The server knows: the next request is refused at the door.
        await waitFor(
          "the server to refuse requests at the door",
          async () => (await get(query("sessions.list"))).answer.status,
          {
            deadlineMs: DEADLINE_MS,
            everyMs: 25,
            accept: (status) => status === 503,
          },
        );
      } finally {
        await server.stop();
      }
    } finally {
      await admin.destroy();
      await database.stop(); // nothing to stop once it has exited; removes what it made
      await rm(dir, { recursive: true, force: true });
    }
  });
});
