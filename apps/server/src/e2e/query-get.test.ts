/**
 * Plain GET queries (one call, not batched) from a known key are answered without tRPC's
 * HTTP adapter (src/query-get.ts): the same answer as the adapter's, with a length instead
 * of a chunked body; every failure still answered by the adapter.
 */
import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startHarness, type Harness } from "./harness.js";

let h: Harness;
let sessionId: string;
beforeAll(async () => {
  h = await startHarness();
  const created = await h.client.events.ingest.mutate({
    events: Array.from({ length: 3 }, (_, i) => ({
      externalSessionId: "plain-get",
      eventType: "tool",
      payload: { i, text: "é ünïcode", nested: { list: [1, 2, 3] } },
    })),
  });
  expect(created.accepted).toBe(3);
  sessionId = (await h.client.sessions.get.query({ externalId: "plain-get" })).id;
});
afterAll(() => h?.stop());

const query = (path: string, input?: unknown) =>
  `/trpc/${path}${input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`}`;

/**
 * The request as given, and the same request as the adapter answers it (a `trpc-accept`
 * header that asks for plain JSON keeps it off the fast path), with the key warmed first.
 */
async function bothWays(path: string, headers: Record<string, string> = {}) {
  const auth = { authorization: `Bearer ${h.server.apiKey}`, ...headers };
  await fetch(`${h.server.url}/trpc/auth.whoami`, { headers: auth }).then((r) => r.text());
  const direct = await fetch(`${h.server.url}${path}`, { headers: auth });
  const adapter = await fetch(`${h.server.url}${path}`, { headers: { ...auth, "trpc-accept": "application/json" } });
  const answer = async (r: Response) => ({
    status: r.status,
    contentType: r.headers.get("content-type"),
    vary: r.headers.get("vary"),
    body: await r.text(),
  });
  return { direct, adapter, directAnswer: await answer(direct), adapterAnswer: await answer(adapter) };
}

describe("GET /trpc/<query>", () => {
  it("answers what the adapter answers, with a content length instead of a chunked body", async () => {
    for (const path of [
      query("auth.whoami"),
      query("events.listForSession", { sessionId, limit: 2 }),
      query("events.listSummariesForSession", { sessionId, limit: 10, afterSeq: 1 }),
      query("sessions.list", { limit: 5 }),
    ]) {
      const { direct, adapter, directAnswer, adapterAnswer } = await bothWays(path);
      expect(directAnswer).toEqual(adapterAnswer);
      expect(directAnswer.status).toBe(200);
      expect(direct.headers.get("content-length")).toBe(String(Buffer.byteLength(directAnswer.body)));
      expect(direct.headers.get("transfer-encoding")).toBeNull();
      expect(adapter.headers.get("transfer-encoding")).toBe("chunked");
    }
  });

  it("leaves every failure to the adapter: the same error answers as before", async () => {
    const cases: Array<[string, number]> = [
      [query("events.listForSession", { sessionId: randomUUID(), limit: 2 }), 404],
      [query("events.listForSession", { sessionId: "not-a-uuid", limit: 2 }), 400],
      [`/trpc/events.listForSession?input=${encodeURIComponent("{not json")}`, 400],
      [query("no.such.procedure"), 404],
      [query("sessions.create", { title: "by GET" }), 405],
    ];
    for (const [path, status] of cases) {
      const { directAnswer, adapterAnswer } = await bothWays(path);
      expect(directAnswer.status).toBe(status);
      expect(directAnswer).toEqual(adapterAnswer);
    }
    // Nothing was created by the mutation sent as a GET.
    const titled = await h.client.sessions.list.query({ limit: 50, search: "by GET" });
    expect(titled.items).toEqual([]);
  });

  it("answers a key it has not verified yet, a wrong key and no key through the adapter", async () => {
    const fresh = await h.admin.apiKeys.create.mutate({ name: "fresh reader", scopes: ["read"] });
    const first = await fetch(`${h.server.url}${query("auth.whoami")}`, {
      headers: { authorization: `Bearer ${fresh.secret}` },
    });
    expect(first.status).toBe(200);
    expect(((await first.json()) as { result: { data: { name: string } } }).result.data.name).toBe("fresh reader");
    const wrong = await fetch(`${h.server.url}${query("auth.whoami")}`, {
      headers: { authorization: "Bearer lb_not_a_real_key" },
    });
    expect(wrong.status).toBe(401);
    const none = await fetch(`${h.server.url}${query("auth.whoami")}`);
    expect(none.status).toBe(401);
  });
});
