import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("events router", () => {
  it("ingests idempotently: a retried batch (same session, time and id) is stored once", async () => {
    const event = { id: randomUUID(), externalSessionId: `s-${randomUUID()}`, eventType: "Note" };
    const batch = { events: [{ ...event, occurredAt: "2026-11-30T10:00:00.000Z" }] };
    expect(await t.ingest.events.ingest(batch)).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(await t.ingest.events.ingest(batch)).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it("names the bad event by its index, and stores nothing of the batch", async () => {
    const sessionId = `s-${randomUUID()}`;
    const error = await callError(
      t.ingest.events.ingest({
        events: [
          { externalSessionId: sessionId, eventType: "Fine" },
          { externalSessionId: sessionId, eventType: "1bad" },
        ],
      }),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.issues?.[0]?.path).toBe("events.1.eventType");
    expect(await t.kit.db.knex("sessions").where({ external_id: sessionId })).toHaveLength(0);
  });

  it("reads a payload back exactly as stored, a `__proto__` key included, on every read path", async () => {
    const payload = JSON.parse('{"__proto__": {"kept": true}, "tool_input": {"command": "ls"}}') as Record<
      string,
      unknown
    >;
    const externalSessionId = `s-${randomUUID()}`;
    const id = randomUUID();
    await t.ingest.events.ingest({ events: [{ id, externalSessionId, eventType: "Note", payload }] });
    const stored = await t.ingest.events.get({ id });
    const page = await t.ingest.events.listForSession({ sessionId: stored.sessionId });
    for (const read of [stored.payload, page.items[0]?.payload]) {
      expect(Object.keys(read ?? {})).toEqual(["__proto__", "tool_input"]);
      expect(JSON.stringify(read)).toBe('{"__proto__":{"kept":true},"tool_input":{"command":"ls"}}');
    }
  });

  it("needs the read scope to read; an unknown event is NOT_FOUND", async () => {
    const writer = await t.kit.caller(["ingest"]);
    expect(await callError(writer.events.listRecent({}))).toMatchObject({ code: "FORBIDDEN" });
    expect(await callError(t.ingest.events.get({ id: randomUUID() }))).toMatchObject({ code: "NOT_FOUND" });
  });

  it("searches: an empty query is a BAD_REQUEST naming the field, a match comes back with its snippet", async () => {
    const empty = await callError(t.ingest.events.search({ query: "  " }));
    expect(empty).toMatchObject({ code: "BAD_REQUEST" });
    expect(empty.issues?.[0]).toMatchObject({ path: "query", message: "give the text to search for" });
    const session = `s-${randomUUID()}`;
    await t.ingest.events.ingest({
      events: [{ externalSessionId: session, eventType: "Note", message: "the wombat escaped" }],
    });
    const page = await t.ingest.events.search({ query: "wombats" });
    expect(page.items.map((hit) => [hit.session.externalId, hit.snippet])).toEqual([
      [
        session,
        [
          { text: "the ", match: false },
          { text: "wombat", match: true },
          { text: " escaped", match: false },
        ],
      ],
    ]);
    const writer = await t.kit.caller(["ingest"]);
    expect(await callError(writer.events.search({ query: "wombat" }))).toMatchObject({ code: "FORBIDDEN" });
  });
});
