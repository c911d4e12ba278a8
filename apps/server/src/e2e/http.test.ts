/**
 * The plain HTTP surface: `POST /hooks/claude-code` with our fixture of every payload Claude
 * Code hooks send, its refusals (401/403/400/413), body limits on tRPC too,
 * `GET /health`, and 404/405 for everything else.
 */
import { randomUUID } from "node:crypto";
import { connect } from "node:net";

import { hookFixtures } from "@logbook/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { startHarness, type Harness } from "./harness.js";
import { checkEveryHookPayloadStored } from "./hook-payloads.js";

const BODY_LIMIT = 256 * 1024;

let h: Harness;
let readOnlyKey: string;
beforeAll(async () => {
  h = await startHarness({ env: { BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
  readOnlyKey = (await h.admin.apiKeys.create.mutate({ name: "reader", scopes: ["read"] })).secret;
});
afterAll(() => h?.stop());

function postHook(
  body: string | Uint8Array,
  headers: Record<string, string> = {},
  apiKey: string | null = h.server.apiKey,
) {
  return fetch(`${h.server.url}/hooks/claude-code`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(apiKey === null ? {} : { authorization: `Bearer ${apiKey}` }),
      ...headers,
    },
    body,
  });
}

interface ErrorBody {
  error: { code: string; message: string; httpStatus?: number; data?: { code: string; httpStatus: number } };
}

async function errorOf(response: Response): Promise<ErrorBody["error"]> {
  return ((await response.json()) as ErrorBody).error;
}

async function countEvents(where: Record<string, unknown> = {}): Promise<number> {
  const row = (await h.db.knex("events").where(where).count({ n: "*" }).first()) as { n: number | string };
  return Number(row.n);
}

/**
 * Sends only the head of a POST that announces `contentLength` bytes with
 * `Expect: 100-continue` (as the hook emitter does for bodies over 1 MB) and returns the
 * status line of the first answer: `100 Continue` invites the body, a final status refuses it.
 */
function firstAnswerToExpect(path: string, contentLength: number): Promise<string> {
  const { hostname, port } = new URL(h.server.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let received = "";
    socket.setEncoding("latin1");
    socket.on("connect", () =>
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${h.server.apiKey}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${contentLength}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      ),
    );
    socket.on("data", (chunk: string) => {
      received += chunk;
      const end = received.indexOf("\r\n");
      if (end >= 0) {
        socket.destroy();
        resolve(received.slice(0, end));
      }
    });
    socket.on("error", reject);
    socket.on("end", () => reject(new Error(`closed before an answer: ${JSON.stringify(received)}`)));
  });
}

describe("POST /hooks/claude-code", () => {
  it("stores every fixture payload (every hook event, older and odd ones) and answers 200 {} to each", async () => {
    const payloads = hookFixtures();
    expect(payloads.length).toBeGreaterThan(50);
    await checkEveryHookPayloadStored(h, payloads, "ci-box");
  }, 300_000);

  it("stores a retried post (same X-Logbook-Event-Id) once, with the time it was given", async () => {
    const id = randomUUID();
    const occurredAt = "2026-01-02T03:04:05.000Z";
    const body = JSON.stringify({ session_id: `retry-${randomUUID()}`, hook_event_name: "Stop", cwd: "/tmp" });
    for (let i = 0; i < 3; i++) {
      const response = await postHook(body, { "x-logbook-event-id": id, "x-logbook-occurred-at": occurredAt });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({});
    }
    const rows = await h.db.knex("events").where({ id }).select("occurred_at");
    expect(rows).toHaveLength(1);
    expect((rows[0] as { occurred_at: Date }).occurred_at.toISOString()).toBe(occurredAt);
  });

  it("stores a payload whose session_id and agent_id hold lone surrogates (found by the hostile suite: it was a 500)", async () => {
    const sessionId = `lone-${randomUUID()}-\udfff`;
    const body = JSON.stringify({
      session_id: sessionId,
      agent_id: "\udfff\ud800",
      hook_event_name: "PreToolUse",
      tool_name: "Bash",
    });
    const response = await postHook(body);
    expect(response.status).toBe(200);
    // The body stays {} for Claude Code; a header says what changed: three lone surrogates.
    expect(await response.json()).toEqual({});
    expect(response.headers.get("x-logbook-replaced-characters")).toBe("3");
    const parent = sessionId.replace("\udfff", "\uFFFD");
    const child = await h.client.sessions.get.query({ externalId: `${parent}:agent:\uFFFD\uFFFD` });
    expect(child.parentSessionId).toBe((await h.client.sessions.get.query({ externalId: parent })).id);
    expect(await h.db.knex("events").where({ session_id: child.id }).count({ n: "*" }).first()).toEqual({ n: 1 });
    // The stored records say it too: the event, and its session's sum.
    const { items } = await h.client.events.listForSession.query({ sessionId: child.id });
    expect(items.map((e) => e.replacedCharacters)).toEqual([3]);
    expect(child.replacedCharacters).toBe(3);
  });

  it("says how many characters it stored as U+FFFD in hook batches and session store entries, counting stored events only", async () => {
    const sessionId = `nul-${randomUUID()}`;
    const withNul = {
      id: randomUUID(),
      payload: {
        session_id: sessionId,
        hook_event_name: "PostToolUse",
        tool_response: { "out\u0000": "a\u0000b\ud800" },
      },
    };
    const clean = { payload: { session_id: sessionId, hook_event_name: "Stop" } };
    expect(await h.client.hooks.ingest.mutate({ events: [withNul, clean] })).toMatchObject({
      accepted: 2,
      replacedCharacters: 3,
    });
    // Sent again, it is a duplicate: nothing stored, nothing changed.
    expect(await h.client.hooks.ingest.mutate({ events: [withNul] })).toMatchObject({
      duplicates: 1,
      replacedCharacters: 0,
    });
    const [stored] = await h.db.knex
      .raw<{ rows: Array<{ payload: unknown }> }>("SELECT payload FROM events WHERE id = ?", [withNul.id])
      .then((r) => r.rows);
    expect(stored?.payload).toMatchObject({
      tool_response: { "out\uFFFD": "a\uFFFDb\uFFFD" },
    });
    // Counted on the session once: the duplicate added nothing.
    expect((await h.client.sessions.get.query({ externalId: sessionId })).replacedCharacters).toBe(3);

    // A clean hook post carries no such header.
    const post = await postHook(JSON.stringify({ session_id: sessionId, hook_event_name: "Stop" }));
    expect(post.status).toBe(200);
    expect(post.headers.get("x-logbook-replaced-characters")).toBeNull();

    const entry = { type: "user", uuid: randomUUID(), message: { role: "user", content: "hi\u0000" } };
    const appended = await h.client.sessionStore.append.mutate({
      projectKey: "nul",
      sessionId: randomUUID(),
      entries: [entry, { type: "summary", summary: "clean" }],
    });
    expect(appended).toEqual({ accepted: 2, duplicates: 0, replacedCharacters: 1 });
  });

  it("stores an event whose X-Logbook-Event-Id is a UUIDv7 from year 10590, dated by its arrival (hostile suite: it was a 500)", async () => {
    const id = "f76956c3-948e-719f-8000-00160000001f";
    const response = await postHook(JSON.stringify({ session_id: `far-${randomUUID()}`, hook_event_name: "Stop" }), {
      "x-logbook-event-id": id,
    });
    expect(response.status).toBe(200);
    const rows = await h.db.knex("events").where({ id }).select<Array<{ occurred_at: Date }>>("occurred_at");
    expect(rows).toHaveLength(1);
    expect(expectDefined(rows[0]).occurred_at.getUTCFullYear()).toBeLessThan(10_000);
  });

  it("401 without a valid key, 403 without the ingest scope; nothing stored", async () => {
    const body = JSON.stringify({ session_id: `auth-${randomUUID()}`, hook_event_name: "Stop" });
    const before = await countEvents();
    const none = await postHook(body, {}, null);
    expect(none.status).toBe(401);
    const noneError = await errorOf(none);
    expect(noneError.code).toBe("UNAUTHORIZED");
    expect(noneError.message).toMatch(/API key is required/);
    const wrong = await postHook(body, {}, "lbk_000000000000_not-a-real-key");
    expect(wrong.status).toBe(401);
    const reader = await postHook(body, {}, readOnlyKey);
    expect(reader.status).toBe(403);
    const readerError = await errorOf(reader);
    expect(readerError.code).toBe("FORBIDDEN");
    expect(readerError.message).toMatch(/ingest/);
    expect(await countEvents()).toBe(before);
  });

  it("400 with a clear message for malformed JSON, a non-hook payload and a bad header", async () => {
    const malformed = await postHook('{"session_id": "abc", ');
    expect(malformed.status).toBe(400);
    const malformedError = await errorOf(malformed);
    expect(malformedError.code).toBe("BAD_REQUEST");
    expect(malformedError.message).toMatch(/^the body is not valid JSON/);

    const notHook = await postHook(JSON.stringify({ hello: "world" }));
    expect(notHook.status).toBe(400);
    expect((await errorOf(notHook)).message).toMatch(/session_id/);

    const array = await postHook(JSON.stringify([{ session_id: "a", hook_event_name: "Stop" }]));
    expect(array.status).toBe(400);

    const badTime = await postHook(JSON.stringify({ session_id: "a", hook_event_name: "Stop" }), {
      "x-logbook-occurred-at": "yesterday",
    });
    expect(badTime.status).toBe(400);
    expect((await errorOf(badTime)).message).toMatch(/x-logbook-occurred-at/);

    // ISO-8601's year 0000 passes a date-time pattern but not PostgreSQL: named, not "out of range".
    const yearZero = await postHook(JSON.stringify({ session_id: "a", hook_event_name: "Stop" }), {
      "x-logbook-occurred-at": "0000-01-01T00:00:00Z",
    });
    expect(yearZero.status).toBe(400);
    expect((await errorOf(yearZero)).message).toMatch(/x-logbook-occurred-at.*year 0000/);
  });

  it("413 for a body over BODY_LIMIT_BYTES, and the server goes on", async () => {
    const big = JSON.stringify({
      session_id: "big",
      hook_event_name: "PostToolUse",
      tool_response: "x".repeat(BODY_LIMIT),
    });
    const response = await postHook(big);
    expect(response.status).toBe(413);
    const tooLarge = await errorOf(response);
    expect(tooLarge.code).toBe("PAYLOAD_TOO_LARGE");
    expect(tooLarge.message).toMatch(/limit of 262144 bytes/);
    const small = await postHook(JSON.stringify({ session_id: `after-${randomUUID()}`, hook_event_name: "Stop" }));
    expect(small.status).toBe(200);
  });

  it("answers Expect: 100-continue with a 413 for a body announced over the limit, and 100 Continue otherwise", async () => {
    // Found in the hook emitter's e2e test under load: after a 100 Continue the emitter sent a
    // 20 MB body the server then refused and closed on, and the reset could swallow the 413.
    for (const path of ["/hooks/claude-code", "/trpc/hooks.ingest", "/trpc/events.ingest"]) {
      expect(await firstAnswerToExpect(path, BODY_LIMIT + 1)).toMatch(/^HTTP\/1\.1 413 /);
      expect(await firstAnswerToExpect(path, BODY_LIMIT)).toBe("HTTP/1.1 100 Continue");
    }
  });

  it("413 for a chunked body that grows over the limit, and the next keep-alive requests still work", async () => {
    // Found by tooling/reliability: the connection used to be dropped without notice, so
    // the client's next request on it failed with ECONNRESET (and, cut off mid-send, the
    // client could get EPIPE instead of the 413). 8× the limit makes that race likely.
    for (let round = 0; round < 3; round++) {
      const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 8 * BODY_LIMIT) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const response = await fetch(`${h.server.url}/hooks/claude-code`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${h.server.apiKey}` },
        body,
        duplex: "half",
      });
      // The client is still sending when the server refuses: it must read a 413, not a reset.
      expect(response.status).toBe(413);
      await response.arrayBuffer();
      for (let i = 0; i < 3; i++) {
        const next = await postHook(
          JSON.stringify({ session_id: `after-chunked-${randomUUID()}`, hook_event_name: "Stop" }),
        );
        expect(next.status).toBe(200);
      }
    }
  });
});

describe("tRPC over HTTP", () => {
  it("413 for an oversize call, 400 for malformed JSON", async () => {
    const events = [{ externalSessionId: "big", eventType: "x", message: "y".repeat(BODY_LIMIT) }];
    const big = await fetch(`${h.server.url}/trpc/events.ingest`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.server.apiKey}` },
      body: JSON.stringify({ events }),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 } } });

    const malformed = await fetch(`${h.server.url}/trpc/events.ingest`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.server.apiKey}` },
      body: '{"events": [',
    });
    expect(malformed.status).toBe(400);
    expect((await errorOf(malformed)).message).toMatch(/not valid JSON/);
  });

  it("431 with a JSON message for a query whose URL is over the header limit, read by a client still sending it", async () => {
    // 2 MB of `?input=`: the server refuses after the first 16 KB, while the client writes on.
    // Node's default answer destroyed the socket, and the client got a reset (hostile suite).
    const { host, hostname, port } = new URL(h.server.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ""));
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")));
      socket.on("end", () => resolve(received));
      socket.on("error", reject);
      socket.write(`GET /trpc/sessions.list?input=${"x".repeat(2_000_000)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    });
    const [head, body] = answer.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head).toMatch(/connection: close/i);
    expect(JSON.parse(expectDefined(body))).toEqual({
      error: { code: "HEADERS_TOO_LARGE", httpStatus: 431, message: expect.stringContaining("POST body") as unknown },
    });
    // The server goes on.
    expect((await fetch(`${h.server.url}/health`)).status).toBe(200);
  });

  it("400 naming a field the procedure does not know, at any depth; nothing stored", async () => {
    const call = (procedure: string, input: unknown, method: "GET" | "POST") =>
      fetch(
        `${h.server.url}/trpc/${procedure}` +
          (method === "GET" ? `?input=${encodeURIComponent(JSON.stringify(input))}` : ""),
        {
          method,
          headers: { "content-type": "application/json", authorization: `Bearer ${h.server.apiKey}` },
          ...(method === "POST" ? { body: JSON.stringify(input) } : {}),
        },
      );
    const before = await countEvents();

    // A misspelt filter used to be dropped: the whole list came back as if it had filtered.
    const list = await call("sessions.list", { projectID: randomUUID() }, "GET");
    expect(list.status).toBe(400);
    const listError = await errorOf(list);
    expect(listError.message).toMatch(/^invalid input: unknown field "projectID": it takes .*\bprojectId\b/);
    // tRPC's infinite queries add the way they page; only forward is a way pages go.
    expect((await call("sessions.list", { limit: 1, direction: "forward" }, "GET")).status).toBe(200);
    const backward = await call("sessions.list", { limit: 1, direction: "backward" }, "GET");
    expect((await errorOf(backward)).message).toBe(
      'invalid input: direction: must be "forward": pages go one way, on from the cursor',
    );

    // In an event of a batch: the whole batch is refused, the path names the event.
    const ok = { externalSessionId: `strict-${randomUUID()}`, eventType: "note" };
    const ingest = await call("events.ingest", { events: [ok, { ...ok, sesionId: randomUUID() }] }, "POST");
    expect(ingest.status).toBe(400);
    expect(await ingest.json()).toMatchObject({
      error: { data: { issues: [{ path: "events.1", code: "unrecognized_keys" }] } },
    });
    const batchError = await call("events.ingest", { events: [ok], dryRun: true }, "POST");
    expect((await errorOf(batchError)).message).toBe('invalid input: unknown field "dryRun": it takes events');
    expect(await countEvents()).toBe(before);

    // A hook payload keeps every field Claude Code sends, known to us or not.
    const hook = await call(
      "hooks.ingest",
      { events: [{ payload: { session_id: `strict-${randomUUID()}`, hook_event_name: "Stop", brand_new: 1 } }] },
      "POST",
    );
    expect(hook.status).toBe(200);
    expect(await countEvents()).toBe(before + 1);
  });

  it("a batched call answers each procedure on its own", async () => {
    const input = encodeURIComponent(JSON.stringify({ 0: {}, 1: { id: "nope" } }));
    const response = await fetch(`${h.server.url}/trpc/sessions.list,sessions.get?batch=1&input=${input}`, {
      headers: { authorization: `Bearer ${h.server.apiKey}` },
    });
    const [list, get] = (await response.json()) as [{ result?: unknown }, { error?: { data: { code: string } } }];
    expect(response.status).toBe(207);
    expect(list.result).toBeDefined();
    expect(get.error?.data.code).toBe("BAD_REQUEST");
  });
});

describe("other routes", () => {
  it("GET /health is open and answers 200 with the database state", async () => {
    const response = await fetch(`${h.server.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: "ok",
      database: { reachable: true, migrationsCurrent: true, pendingMigrations: [] },
    });
  });

  it("404 JSON for an unknown route or procedure, 405 for a wrong method", async () => {
    // A GET elsewhere is a dashboard client route (web.test.ts); other methods, and paths
    // under the server's own prefixes, are not.
    const unknown = await fetch(`${h.server.url}/nothing/here`, { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      error: { code: "NOT_FOUND", message: "no route for POST /nothing/here" },
    });
    const unknownGet = await fetch(`${h.server.url}/hooks/nothing`);
    expect(unknownGet.status).toBe(404);
    expect(await unknownGet.json()).toMatchObject({
      error: { code: "NOT_FOUND", message: "no route for GET /hooks/nothing" },
    });
    const procedure = await fetch(`${h.server.url}/trpc/nothing.here`, {
      headers: { authorization: `Bearer ${h.server.apiKey}` },
    });
    expect(procedure.status).toBe(404);
    const wrongMethod = await fetch(`${h.server.url}/hooks/claude-code`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
  });
});
