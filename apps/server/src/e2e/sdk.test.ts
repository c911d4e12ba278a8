/**
 * The SDK's own behaviour against the real server: retries with backoff for transient
 * failures (queries and idempotent mutations only), idempotent ingest across a lost
 * answer, unbatched mode, extra headers, and typed errors on a refused subscription.
 * Failures are made by wrapping the real `fetch`: the server and database stay real.
 */
import { randomUUID } from "node:crypto";

import { createLogbookClient, LogbookError, type LogbookClientOptions } from "@logbook/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { waitFor } from "@logbook/vitest-config/wait-for";

import { failure, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

type Step = "network-error" | "lose-answer" | "proxy-503" | "pass";

/** A fetch that misbehaves as scripted for its first calls, then passes through. */
function scriptedFetch(script: Step[]) {
  const calls: Array<{ url: string; headers: Headers }> = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    calls.push({ url: input instanceof Request ? input.url : input.toString(), headers: new Headers(init?.headers) });
    const step = script[calls.length - 1] ?? "pass";
    if (step === "network-error") throw new TypeError("fetch failed");
    if (step === "proxy-503")
      return new Response("<html>upstream busy</html>", { status: 503, headers: { "content-type": "text/html" } });
    const response = await fetch(input, init);
    if (step === "lose-answer") {
      await response.arrayBuffer();
      throw new TypeError("fetch failed: socket hang up");
    }
    return response;
  };
  return { fetchImpl, calls };
}

function clientWith(script: Step[], more: Partial<LogbookClientOptions> = {}) {
  const scripted = scriptedFetch(script);
  const client = createLogbookClient({
    url: h.server.url,
    apiKey: h.server.apiKey,
    fetch: scripted.fetchImpl,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 10 },
    ...more,
  });
  return { client, calls: scripted.calls };
}

async function eventCount(sessionExternalId: string): Promise<number> {
  const row = (await h.db
    .knex("events as e")
    .join("sessions as s", "s.id", "e.session_id")
    .where("s.external_id", sessionExternalId)
    .count({ n: "*" })
    .first()) as { n: string | number };
  return Number(row.n);
}

describe("retries", () => {
  it("retries a query after network errors and a proxy's 503", async () => {
    const { client, calls } = clientWith(["network-error", "proxy-503", "pass"]);
    const page = await client.sessions.list.query({});
    expect(page.items).toBeInstanceOf(Array);
    expect(calls).toHaveLength(3);
  });

  it("retries an ingest whose answer was lost: the events are stored once", async () => {
    const externalSessionId = `lost-${randomUUID()}`;
    const { client, calls } = clientWith(["lose-answer", "pass"]);
    const result = await client.ingest([
      { externalSessionId, eventType: "a" },
      { externalSessionId, eventType: "b" },
    ]);
    expect(calls).toHaveLength(2);
    // The first try stored them; the retry carried the same ids.
    expect(result).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(await eventCount(externalSessionId)).toBe(2);
  });

  it("gives ids to events sent through the raw procedure too, so its retry is safe", async () => {
    const externalSessionId = `raw-${randomUUID()}`;
    const { client } = clientWith(["lose-answer", "pass"]);
    await client.events.ingest.mutate({ events: [{ externalSessionId, eventType: "a" }] });
    expect(await eventCount(externalSessionId)).toBe(1);
  });

  it("stores an event with its own id and no time once, however often and however it is sent", async () => {
    // Two kinds of own id: a UUIDv7 (the server dates the event by it) and one with no time
    // in it (dated on arrival; found again by its id). The SDK must not stamp each call's
    // time on them, or every resend would be another event.
    const externalSessionId = `own-${randomUUID()}`;
    const own = [
      { id: "0190b1c2-0000-7000-8000-00000000000a", externalSessionId, eventType: "a" },
      { id: randomUUID(), externalSessionId, eventType: "b" },
    ];
    const { client } = clientWith(["pass"]);
    expect(await client.ingest(own)).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(await client.ingest(own)).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(await client.events.ingest.mutate({ events: own })).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(await eventCount(externalSessionId)).toBe(2);

    const sessionId = `own-hook-${randomUUID()}`;
    const envelope = { id: randomUUID(), payload: { session_id: sessionId, hook_event_name: "Stop" } };
    expect(await client.hooks.ingest.mutate({ events: [envelope] })).toMatchObject({ accepted: 1 });
    expect(await client.hooks.ingest.mutate({ events: [envelope] })).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await eventCount(sessionId)).toBe(1);
  });

  it("does not retry a mutation that is not idempotent", async () => {
    const { client, calls } = clientWith(["network-error", "pass"]);
    const error = await failure(client.sessions.create.mutate({ title: "once" }));
    expect(error).toBeInstanceOf(LogbookError);
    expect(error).toMatchObject({ code: "NETWORK_ERROR", httpStatus: null });
    expect(calls).toHaveLength(1);
  });

  it("gives up after the configured attempts, and not at all with retry: false", async () => {
    const failing: Step[] = Array.from({ length: 10 }, () => "network-error");
    const limited = clientWith(failing, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    expect(await failure(limited.client.stats.overview.query())).toMatchObject({ code: "NETWORK_ERROR" });
    expect(limited.calls).toHaveLength(3);

    const none = clientWith(failing, { retry: false });
    expect(await failure(none.client.stats.overview.query())).toMatchObject({ code: "NETWORK_ERROR" });
    expect(none.calls).toHaveLength(1);
  });

  it("does not retry a refusal (4xx)", async () => {
    const { client, calls } = clientWith([]);
    expect(await failure(client.sessions.get.query({ id: randomUUID() }))).toMatchObject({ code: "NOT_FOUND" });
    expect(calls).toHaveLength(1);
  });
});

describe("options", () => {
  it("batch: false sends one request per call; extra headers go with every request", async () => {
    const { client, calls } = clientWith([], { batch: false, headers: async () => ({ "x-trace-id": "t-1" }) });
    await Promise.all([client.sessions.list.query({}), client.stats.overview.query()]);
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.headers.get("x-trace-id") === "t-1")).toBe(true);
    expect(calls.every((c) => c.headers.get("authorization") === `Bearer ${h.server.apiKey}`)).toBe(true);

    const batched = clientWith([]);
    await Promise.all([batched.client.sessions.list.query({}), batched.client.stats.overview.query()]);
    expect(batched.calls).toHaveLength(1);
  });

  it("accepts a URL with a trailing slash", async () => {
    const client = createLogbookClient({ url: `${h.server.url}/`, apiKey: h.server.apiKey });
    expect(await client.auth.whoami.query()).toMatchObject({ name: "local" });
  });
});

describe("answers that are not the API's", () => {
  it("a URL with a path: the server's own words (no route) and NOT_FOUND without a procedure", async () => {
    const client = createLogbookClient({ url: `${h.server.url}/some/path`, apiKey: h.server.apiKey, retry: false });
    const error = await failure(client.sessions.list.query({}));
    expect(error).toMatchObject({
      code: "NOT_FOUND",
      httpStatus: 404,
      procedure: null,
      message: "no route for GET /some/path/trpc/sessions.list",
    });
    // The same for a batch of calls, and for a mutation (POST).
    const batch = await Promise.allSettled([client.sessions.list.query({}), client.stats.overview.query()]);
    for (const result of batch) {
      expect(result).toMatchObject({ status: "rejected", reason: { code: "NOT_FOUND", procedure: null } });
      if (result.status === "rejected") expect((result.reason as Error).message).toMatch(/^no route for GET /);
    }
    expect(await failure(client.ingest([{ externalSessionId: "x", eventType: "a" }]))).toMatchObject({
      message: "no route for POST /some/path/trpc/events.ingest",
    });
  });

  it("an input too long for a URL: the server's 431 and its reason, as BAD_REQUEST", async () => {
    const error = (await failure(h.client.events.search.query({ query: "é".repeat(6000) }))) as LogbookError;
    expect(error).toMatchObject({ code: "BAD_REQUEST", httpStatus: 431 });
    expect(error.message).toMatch(/not in the URL/);
  });

  it("another server at the URL: said to be not Logbook's API, with its status", async () => {
    const { fetchImpl } = scriptedFetch(["proxy-503"]);
    const foreign = createLogbookClient({ url: h.server.url, apiKey: "k", fetch: fetchImpl, retry: false });
    expect(await failure(foreign.sessions.list.query({}))).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      httpStatus: 503,
      message: "HTTP 503, which is not an answer of Logbook's API (is the server's URL right?)",
      procedure: null,
    });
  });
});

describe("subscriptions", () => {
  it("followSession reports a refused subscription as a typed error", async () => {
    const created = await h.admin.apiKeys.create.mutate({ name: "short-lived", scopes: ["read"] });
    await h.admin.apiKeys.revoke.mutate({ id: created.key.id });
    const client = createLogbookClient({ url: h.server.url, apiKey: created.secret });
    const error = await new Promise<LogbookError>((resolve) => {
      client.followSession(randomUUID(), { onEvent: () => undefined, onError: resolve });
    });
    expect(error).toMatchObject({ code: "UNAUTHORIZED", httpStatus: 401 });
  });

  it("followSession subscribes again after a 503 (a proxy, a server still starting) and misses nothing", async () => {
    const externalSessionId = `follow-503-${randomUUID()}`;
    const first = await h.client.ingest([{ externalSessionId, eventType: "start" }]);
    const session = await h.client.sessions.get.query({ externalId: externalSessionId });
    // An EventSource takes any answer but 200 as final: only the SDK's retry comes back from it.
    const { client, calls } = clientWith(["proxy-503", "proxy-503"]);
    const seen: string[] = [];
    const errors: string[] = [];
    let started = false;
    // From the first event on (a resume point: events written after it are replayed, whenever
    // the stream joins the server's live feed).
    const following = client.followSession(session.id, {
      lastEventId: first.ids[0] ?? null,
      onEvent: (e) => seen.push(e.eventType),
      onStarted: () => (started = true),
      onError: (error) => errors.push(`${error.code} ${String(error.httpStatus)}`),
    });
    await waitFor("the subscription to start after two refusals", () => ({ started, errors }), {
      deadlineMs: 30_000,
      accept: (state) => state.started || state.errors.length > 0,
    });
    expect(errors).toEqual([]);
    await h.client.ingest(["one", "two"].map((eventType) => ({ externalSessionId, eventType })));
    await waitFor("both events", () => [...seen], { deadlineMs: 30_000, accept: (types) => types.length >= 2 });
    following.unsubscribe();
    expect(seen).toEqual(["one", "two"]);
    // Two refused, then the one that held.
    expect(calls.filter((c) => c.url.includes("events.onEvent")).length).toBeGreaterThanOrEqual(3);
  });

  it("followSession sends the key through its own fetch and delivers events in order", async () => {
    const externalSessionId = `follow-${randomUUID()}`;
    await h.client.ingest([{ externalSessionId, eventType: "start" }]);
    const session = await h.client.sessions.get.query({ externalId: externalSessionId });
    const { client, calls } = clientWith([]);
    const seen: string[] = [];
    let started = false;
    const following = client.followSession(session.id, {
      onEvent: (e) => seen.push(e.eventType),
      onStarted: () => (started = true),
    });
    await waitFor("the subscription to start", () => started, { deadlineMs: 30_000 });
    await h.client.ingest(["one", "two", "three"].map((eventType) => ({ externalSessionId, eventType })));
    await waitFor("three events", () => [...seen], { deadlineMs: 30_000, accept: (types) => types.length >= 3 });
    following.unsubscribe();
    expect(seen).toEqual(["one", "two", "three"]);
    expect(
      calls.some(
        (c) => c.url.includes("events.onEvent") && c.headers.get("authorization") === `Bearer ${h.server.apiKey}`,
      ),
    ).toBe(true);
  });
});
