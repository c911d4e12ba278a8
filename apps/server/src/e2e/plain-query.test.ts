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

import { startTestServer } from "../testing/index.js";
import { startHarness, type Harness } from "./harness.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds; the test's own timeout bounds the wait. */
async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await sleep(25);
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

/** The server's log lines, parsed. */
function parsed(lines: string[]): Array<Record<string, unknown>> {
  return lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** `onError` calls for `path` among `lines` (logApiError writes one line for each). */
const errorReports = (lines: string[], path: string) =>
  parsed(lines).filter((l) => (l.msg === "request refused" || l.msg === "internal error") && l.path === path);

/** The request log line (written when the response finished) for `/trpc/<path>`. */
const finished = (lines: string[], path: string) =>
  parsed(lines).filter((l) => l.msg === "request" && l.path === `/trpc/${path}`);

describe("GET /trpc/<query> on the plain path", () => {
  let h: Harness;
  let sessionId: string;
  const lines: string[] = [];
  let reader: string;
  let ingestOnly: string;

  beforeAll(async () => {
    h = await startHarness({ env: { LOG_LEVEL: "debug" }, onLog: (line) => lines.push(line) });
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

  const get = (path: string, key: string | null, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetch(`${h.server.url}${path}`, {
      headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
      signal,
    });
  /** Puts `key` in the server's cache of verified keys (any valid key may ask whoami). */
  const warm = async (key: string) => {
    const response = await get(query("auth.whoami"), key);
    expect(response.status).toBe(200);
    await response.text();
  };

  /** The request as given, and the adapter's answer to it; the key warmed first. */
  async function bothWays(path: string, key: string | null = reader) {
    if (key !== null) await warm(key);
    const direct = await get(path, key);
    const directAnswer = await answerOf(direct);
    const adapter = await get(path, key, { "trpc-accept": "application/json" });
    const adapterAnswer = await answerOf(adapter);
    return {
      directAnswer,
      adapterAnswer,
      direct: framing(direct, directAnswer.body),
      adapter: framing(adapter, adapterAnswer.body),
    };
  }

  it("answers a query as the adapter does, with a content length instead of a chunked body", async () => {
    for (const path of [
      query("auth.whoami"),
      query("events.listForSession", { sessionId, limit: 2 }),
      query("events.listSummariesForSession", { sessionId, limit: 10, afterSeq: 1 }),
      query("sessions.list", { limit: 5 }),
      query("sessions.list"),
    ]) {
      const both = await bothWays(path);
      expect(both.directAnswer, path).toEqual(both.adapterAnswer);
      expect(both.directAnswer.status, path).toBe(200);
      expect(both.direct, path).toBe("length");
      expect(both.adapter, path).toBe("chunked");
    }
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
      const mark = lines.length;
      const direct = await get(path, key);
      const directAnswer = await answerOf(direct);
      expect(framing(direct, directAnswer.body), path).toBe("length");
      await until(() => finished(lines.slice(mark), procedure).length === 1);
      // One onError call (logged by logApiError) for the one run.
      expect(errorReports(lines.slice(mark), procedure), path).toHaveLength(1);

      const adapter = await get(path, key, { "trpc-accept": "application/json" });
      const adapterAnswer = await answerOf(adapter);
      expect(framing(adapter, adapterAnswer.body), path).toBe("chunked");
      expect(directAnswer.status, path).toBe(status);
      expect(directAnswer, path).toEqual(adapterAnswer);
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
      const both = await bothWays(path);
      expect(both.directAnswer.status, path).toBe(status);
      expect(both.directAnswer, path).toEqual(both.adapterAnswer);
      expect(both.direct, path).toBe("chunked");
    }
    // Nothing was created by the mutation sent as a GET.
    const titled = await h.client.sessions.list.query({ limit: 50, search: "by GET" });
    expect(titled.items).toEqual([]);
  });

  it("leaves a key not yet verified, a wrong key and no key to the adapter; a failure is counted once", async () => {
    const fresh = await h.admin.apiKeys.create.mutate({ name: "fresh reader", scopes: ["read"] });
    const first = await get(query("auth.whoami"), fresh.secret);
    const firstBody = await first.text();
    expect(first.status).toBe(200);
    expect(framing(first, firstBody)).toBe("chunked");
    expect((JSON.parse(firstBody) as { result: { data: { name: string } } }).result.data.name).toBe("fresh reader");
    // Verified now: the next one is the plain path's.
    const second = await get(query("auth.whoami"), fresh.secret);
    expect(framing(second, await second.text())).toBe("length");

    for (const key of ["lb_not_a_real_key", null]) {
      const mark = lines.length;
      const refused = await get(query("auth.whoami"), key);
      const body = await refused.text();
      expect(refused.status).toBe(401);
      expect(framing(refused, body)).toBe("chunked");
      await until(() => finished(lines.slice(mark), "auth.whoami").length === 1);
      const counted = parsed(lines.slice(mark)).filter((l) => l.msg === "failed authentication");
      // A wrong key is one failure for the throttle; a missing one is none.
      expect(counted).toHaveLength(key === null ? 0 : 1);
    }
  });

  describe("a query the database fails", () => {
    let held: { rollback(): Promise<unknown> } | undefined;
    /** The server's backend running the session list, once it waits for the test's lock. */
    const waitingList = async (): Promise<number | null> => {
      const rows = await h.db.knex.raw<{ rows: Array<{ pid: number }> }>(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%cursor_key%'`,
      );
      return rows.rows[0]?.pid ?? null;
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
      const mark = lines.length;
      const pending = get(query("sessions.list", { limit: 5 }), reader);
      let pid: number | null = null;
      await until(async () => (pid = await waitingList()) !== null);
      // The statement fails (57014, canceled) while the lock is still held: a second run
      // would wait on the lock again, and this answer would not come.
      await h.db.knex.raw("SELECT pg_cancel_backend(?)", [pid]);
      const response = await pending;
      const answer = await answerOf(response);
      expect(framing(response, answer.body)).toBe("length");
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({
        error: { data: { code: "SERVICE_UNAVAILABLE", appCode: "UNAVAILABLE", path: "sessions.list" } },
      });
      expect(await waitingList()).toBeNull();
      await until(() => finished(lines.slice(mark), "sessions.list").length === 1);
      expect(errorReports(lines.slice(mark), "sessions.list")).toHaveLength(1);
      await held?.rollback();
      held = undefined;
    });

    it("does what the adapter does when the client goes away mid-query: runs it out, writes nothing", async () => {
      await warm(reader);
      await lockSessions();
      const mark = lines.length;
      const client = new AbortController();
      const pending = get(query("sessions.list", { limit: 5 }), reader, {}, client.signal).catch(
        (error: unknown) => error,
      );
      await until(async () => (await waitingList()) !== null);
      client.abort();
      expect(await pending).toMatchObject({ name: "AbortError" });
      await held?.rollback();
      held = undefined;
      // The query finishes (it is not re-run); nothing was reported as an error.
      await until(async () => (await waitingList()) === null);
      const next = await get(query("sessions.list", { limit: 5 }), reader);
      expect(next.status).toBe(200);
      expect(framing(next, await next.text())).toBe("length");
      await until(() => finished(lines.slice(mark), "sessions.list").length >= 1);
      expect(errorReports(lines.slice(mark), "sessions.list")).toEqual([]);
      expect(parsed(lines.slice(mark)).filter((l) => Number(l.level) >= 50)).toEqual([]);
    });
  });
});

/**
 * The database going away under a query in flight on the plain path: one attempt, answered
 * 503 with Retry-After as the adapter answers it, reported once (which tells the server to
 * check the database). The earlier version ran the query again through the adapter, which
 * waited for the pool's acquire timeout a second time.
 */
describe("GET /trpc/<query> when the database goes away mid-query", () => {
  it("answers 503 once, from the one attempt", async () => {
    const dir = await mkdtemp(join(tmpdir(), "logbook-plain-query-"));
    const database = await startEmbeddedPostgres({ dataDir: join(dir, "pg") });
    const lines: string[] = [];
    // The superuser, in the app's database: takes the lock and watches the server's backend.
    const admin = createKnex(databaseUrlFor(database.connectionString, "logbook"));
    let running = true;
    try {
      const server = await startTestServer({
        databaseUrl: await database.ensureAppDatabase("logbook"),
        // Bounds what a second attempt would wait for a connection (a failure of this test, not a hang).
        env: { LOG_LEVEL: "debug", DATABASE_ACQUIRE_TIMEOUT_MS: "5000" },
        onLog: (line) => lines.push(line),
      });
      try {
        const get = (path: string) =>
          fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.apiKey}` } });
        expect((await get(query("auth.whoami"))).status).toBe(200);
        const lock = await admin.transaction();
        await lock.raw("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
        const mark = lines.length;
        const pending = get(query("sessions.list", { limit: 5 }));
        await until(async () => {
          const rows = await admin.raw<{ rows: unknown[] }>(
            `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%cursor_key%'`,
          );
          return rows.rows.length > 0;
        });
        running = false;
        await database.stop(); // fast shutdown: the waiting statement's connection is cut
        await lock.rollback().catch(() => undefined); // its connection is gone too: released
        const response = await pending;
        const answer = await answerOf(response);
        expect(framing(response, answer.body)).toBe("length");
        expect(answer.status).toBe(503);
        expect(answer.retryAfter).toBe("1");
        // A second attempt would have waited for a connection and answered "the database is busy".
        expect(JSON.parse(answer.body)).toMatchObject({
          error: {
            message: "the database is not available right now, try again",
            data: { code: "SERVICE_UNAVAILABLE", appCode: "UNAVAILABLE", path: "sessions.list" },
          },
        });
        await until(() => finished(lines.slice(mark), "sessions.list").length === 1);
        expect(errorReports(lines.slice(mark), "sessions.list")).toHaveLength(1);
        // The server knows: the next request is refused at the door.
        await until(async () => (await get(query("sessions.list"))).status === 503);
      } finally {
        await server.stop();
      }
    } finally {
      await admin.destroy();
      if (running) await database.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
