import { randomUUID } from "node:crypto";
import { join } from "node:path";

import { ingestEventsInput } from "@logbook/contracts";
import { createKnex } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { readJsonl, transcriptFixtures } from "@logbook/fixtures";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { SessionService } from "../sessions/session-service.js";
import { checkTranscriptTokens } from "./event-service.checks.js";
import { EventService } from "./event-service.js";

describe("EventService.ingest", () => {
  let db: TestDatabase;
  let events: EventService;
  let sessions: SessionService;
  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    sessions = new SessionService({ knex: db.knex });
  });
  afterAll(async () => db.destroy());

  const count = async (table: string, where: Record<string, unknown> = {}) =>
    Number(((await db.knex(table).where(where).count({ n: "*" })) as [{ n: string }])[0].n);

  it("stores a batch once: a resent batch is all duplicates and changes nothing", async () => {
    const batch = ingestEventsInput.parse({
      events: Array.from({ length: 50 }, (_, i) => ({
        id: uuidv7(),
        externalSessionId: "batch-session",
        eventType: "command_sent",
        payload: { i },
        occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      })),
    });
    const first = await events.ingest(batch);
    expect(first).toMatchObject({ accepted: 50, duplicates: 0 });
    const session = await sessions.get({ externalId: "batch-session" });
    const before = (await db.knex("sessions").where({ id: session.id }).first()) as Record<string, unknown>;
    const second = await events.ingest(batch);
    expect(second).toMatchObject({ accepted: 0, duplicates: 50 });
    expect(second.ids).toEqual(first.ids);
    expect(await count("events", { session_id: session.id })).toBe(50);
    const after = (await db.knex("sessions").where({ id: session.id }).first()) as Record<string, unknown>;
    expect({ ...after, updated_at: null, last_event_seq: null }).toEqual({
      ...before,
      updated_at: null,
      last_event_seq: null,
    });
  });

  it("numbers each session's events in order, and a duplicate inside one batch counts once", async () => {
    const id = uuidv7();
    const result = await events.ingest(
      ingestEventsInput.parse({
        events: [
          { externalSessionId: "seq-session", eventType: "a", id },
          { externalSessionId: "seq-session", eventType: "b" },
          { externalSessionId: "seq-session", eventType: "a", id },
        ],
      }),
    );
    expect(result).toMatchObject({ accepted: 2, duplicates: 1 });
    const session = await sessions.get({ externalId: "seq-session" });
    const page = await events.listForSession({ sessionId: session.id, limit: 10 });
    expect(page.items.map((e) => e.eventType)).toEqual(["a", "b"]);
    expect(expectDefined(page.items[1]).seq).toBeGreaterThan(expectDefined(page.items[0]).seq);
  });

  it("gives a batch's events stream positions in the order they were sent, across sessions and batch sizes", async () => {
    // The live feed and resume tokens follow stream positions: a batch stored out of order
    // would reach subscribers out of order. The planner may hash-join in any order, so try
    // sizes on both sides of where it switches plans, and batches that mix sessions.
    // Forcing each join method in turn makes the test independent of what the planner picks today.
    const plans = [
      "enable_hashjoin=off -c enable_mergejoin=off",
      "enable_hashjoin=off -c enable_nestloop=off",
      "enable_mergejoin=off -c enable_nestloop=off",
    ];
    for (const plan of plans) {
      const url = new URL(db.url);
      url.searchParams.set("options", `-c ${plan}`);
      const knex = createKnex(url.toString());
      try {
        await checkOrder(new EventService({ knex }), plan);
      } finally {
        await knex.destroy();
      }
    }
  });

  async function checkOrder(events: EventService, plan: string): Promise<void> {
    for (const [size, sessionCount] of [
      [5, 1],
      [40, 1],
      [400, 1],
      [40, 7],
      [400, 30],
    ] as const) {
      const tag = uuidv7();
      const batch = ingestEventsInput.parse({
        events: Array.from({ length: size }, (_, i) => ({
          externalSessionId: `stream-order-${tag}-${i % sessionCount}`,
          eventType: "tick",
          message: String(i),
        })),
      });
      const { ids } = await events.ingest(batch);
      const rows = (await db.knex("events").select("id", "stream_seq").whereIn("id", ids)) as Array<{
        id: string;
        stream_seq: string;
      }>;
      const position = new Map(rows.map((r) => [r.id, Number(r.stream_seq)]));
      const positions = ids.map((id) => expectDefined(position.get(id)));
      expect(positions, `${size} events over ${sessionCount} session(s), ${plan}`).toEqual(
        [...positions].sort((a, b) => a - b),
      );
    }
  }

  it("creates a new session once when many writers race to be first", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        events.ingest(
          ingestEventsInput.parse({ events: [{ externalSessionId: "race", eventType: "tick", payload: { i } }] }),
        ),
      ),
    );
    expect(results.reduce((sum, r) => sum + r.accepted, 0)).toBe(20);
    expect(await count("sessions", { external_id: "race" })).toBe(1);
    const session = await sessions.get({ externalId: "race" });
    const seqs = (await events.listForSession({ sessionId: session.id, limit: 50 })).items.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(20);
  });

  it("refuses a token count it cannot count, naming the event and the field, and writes nothing", async () => {
    const before = await count("events");
    const assistant = (tokens: number) => ({
      externalSessionId: "bad-tokens",
      eventType: "assistant",
      source: "transcript",
      payload: {
        type: "assistant",
        message: { id: `m-${tokens}`, role: "assistant", usage: { input_tokens: tokens } },
      },
    });
    for (const tokens of [1e20, -5, 1.5]) {
      const error = await events
        .ingest(ingestEventsInput.parse({ events: [assistant(10), assistant(tokens)] }))
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "INVALID_INPUT", details: { index: 1 } });
      expect((error as Error).message).toBe(
        `events[1].payload.message.usage.input_tokens: ${tokens} is not a token count (a whole number from 0 to 1000000000000)`,
      );
    }
    expect(await count("events")).toBe(before);
    expect(await count("sessions", { external_id: "bad-tokens" })).toBe(0);
  });

  it("writes nothing when one event names an unknown session", async () => {
    const before = await count("events");
    await expect(
      events.ingest(
        ingestEventsInput.parse({
          events: [
            { externalSessionId: "would-be-created", eventType: "a" },
            { sessionId: "00000000-0000-4000-8000-000000000000", eventType: "a" },
          ],
        }),
      ),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await count("events")).toBe(before);
    expect(await count("sessions", { external_id: "would-be-created" })).toBe(0);
  });

  it("keeps NUL characters and lone surrogates out of the way of jsonb without losing the event", async () => {
    const result = await events.ingest(
      ingestEventsInput.parse({
        events: [
          {
            externalSessionId: "hostile",
            eventType: "x",
            payload: { "k\u0000": "a\u0000b", s: "\ud800x", __proto__x: 1 },
          },
        ],
      }),
    );
    expect(result.accepted).toBe(1);
    // The answer says what changed: a NUL in a key, one in a value, a lone surrogate.
    expect(result.replacedCharacters).toBe(3);
    const session = await sessions.get({ externalId: "hostile" });
    const [stored] = (await events.listForSession({ sessionId: session.id, limit: 1 })).items;
    expect(expectDefined(stored).payload).toEqual({ "k\uFFFD": "a\uFFFDb", s: "\uFFFDx", __proto__x: 1 });
  });

  it("takes external session ids with lone surrogates (stored as U+FFFD), and finds those sessions again on a resend", async () => {
    // A subagent's session id is built from the hook's agent_id: a payload can carry anything there.
    const batch = ingestEventsInput.parse({
      events: [
        {
          id: uuidv7(),
          externalSessionId: "lone-\udfff:agent:\ud800",
          parentExternalSessionId: "lone-\udfff",
          agentId: "\ud800",
          eventType: "x",
        },
      ],
    });
    // Four lone surrogates sent in three fields; a resend stores nothing, so it changes nothing.
    expect(await events.ingest(batch)).toMatchObject({ accepted: 1, duplicates: 0, replacedCharacters: 4 });
    expect(await events.ingest(batch)).toMatchObject({ accepted: 0, duplicates: 1, replacedCharacters: 0 });
    const parent = await sessions.get({ externalId: "lone-\uFFFD" });
    const child = await sessions.get({ externalId: "lone-\uFFFD:agent:\uFFFD" });
    expect(child).toMatchObject({ parentSessionId: parent.id, agentId: "\uFFFD" });
    expect((await events.listForSession({ sessionId: child.id, limit: 10 })).items).toHaveLength(1);
  });

  it.each([
    { path: "the one-call path", oneCallIngest: true },
    { path: "the ordinary pipeline", oneCallIngest: false },
  ])(
    "stores each event's count of characters stored as U+FFFD and sums it on its session, through $path",
    async ({ path, oneCallIngest }) => {
      const ingester = new EventService({ knex: db.knex, oneCallIngest });
      const externalSessionId = `replaced-${String(oneCallIngest)}`;
      const sent: string[] = [];
      const onQuery = (query: { sql: string }) => sent.push(query.sql);
      db.knex.on("query", onQuery);
      try {
        const first = ingestEventsInput.parse({
          events: [
            // Two NULs in the payload, a lone surrogate in a field the caller sent.
            { id: uuidv7(), externalSessionId, eventType: "a", payload: { out: "x\u0000y\u0000" }, toolName: "\ud800" },
            { id: uuidv7(), externalSessionId, eventType: "b", payload: { out: "clean" } },
          ],
        });
        expect(await ingester.ingest(first)).toMatchObject({ accepted: 2, replacedCharacters: 3 });
        // A resend stores nothing and adds nothing; a new event adds its own.
        expect(await ingester.ingest(first)).toMatchObject({ accepted: 0, replacedCharacters: 0 });
        const second = ingestEventsInput.parse({
          events: [{ id: uuidv7(), externalSessionId, eventType: "c", payload: { s: "\udfff" } }],
        });
        expect(await ingester.ingest(second)).toMatchObject({ accepted: 1, replacedCharacters: 1 });
      } finally {
        db.knex.off("query", onQuery);
      }
      // The path named is the one that stored them.
      expect(sent.some((sql) => sql.includes("logbook_ingest_group"))).toBe(oneCallIngest);

      const session = await sessions.get({ externalId: externalSessionId });
      expect(session.replacedCharacters, path).toBe(4);
      expect(session.redactions).toBe(0);
      const stored = (await events.listForSession({ sessionId: session.id, limit: 10 })).items;
      expect(stored.map((e) => [e.eventType, e.replacedCharacters])).toEqual([
        ["a", 3],
        ["b", 0],
        ["c", 1],
      ]);
      const summaries = (await events.listSummariesForSession({ sessionId: session.id, limit: 10 })).items;
      expect(summaries.map((e) => e.replacedCharacters)).toEqual([3, 0, 1]);
    },
  );

  it.each([
    { path: "the one-call path", oneCallIngest: true },
    { path: "the ordinary pipeline", oneCallIngest: false },
  ])("sums a session's redactions and replaced characters past 2^31 through $path", async ({ oneCallIngest }) => {
    const ingester = new EventService({ knex: db.knex, oneCallIngest });
    const externalSessionId = `big-counts-${String(oneCallIngest)}`;
    const event = (payload: Record<string, unknown>) =>
      ingestEventsInput.parse({ events: [{ id: uuidv7(), externalSessionId, eventType: "note", payload }] });
    await ingester.ingest(event({ text: "first" }));
    // As if the session had taken in two billion of each already.
    const near = 2 ** 31 - 2;
    await db.knex("sessions").where({ external_id: externalSessionId }).update({
      redactions: near,
      replaced_characters: near,
    });
    const result = await ingester.ingest(
      event({ note: "AKIAIOSFODNN7EXAMPLE and AKIAQWERTYUIOPASDFGH", out: "a\u0000b\u0000c\u0000d\u0000" }),
    );
    expect(result).toMatchObject({ accepted: 1, replacedCharacters: 4 });
    const session = await sessions.get({ externalId: externalSessionId });
    expect(session.replacedCharacters).toBe(near + 4);
    const stored = (await events.listForSession({ sessionId: session.id, limit: 10 })).items;
    expect(expectDefined(stored[1], "the second event").redactions).toBe(2);
    expect(session.redactions).toBe(near + 2);
  });

  it("keeps ids that are 8-4-4-4-12 hex but not RFC 9562 as they are, and does not date an event by one (issue 18)", async () => {
    // Written by other tools: version 0 or f, variant bits 0xxx, 110x, 111x.
    const ids = [
      "3f2e1d0c-9b8a-0f6e-5d4c-3b2a1f0e9d8c",
      "a0b1c2d3-e4f5-4a6b-e7c8-d9e0f1a2b3c4",
      "ffffffff-ffff-ffff-ffff-fffffffffffe",
    ];
    const batch = ingestEventsInput.parse({
      events: ids.map((id, i) => ({
        id,
        externalSessionId: "foreign-ids",
        eventType: "user",
        source: "transcript",
        occurredAt: "2026-10-02T07:45:00.000Z",
        ...(i > 0 ? { parentUuid: ids[i - 1] } : {}),
      })),
    });
    expect(await events.ingest(batch)).toMatchObject({ accepted: 3, ids });
    expect(await events.ingest(batch)).toMatchObject({ accepted: 0, duplicates: 3 });
    for (const id of ids) expect((await events.get({ id })).id).toBe(id);

    // A 7 in the version place of such an id says nothing about time: its bits would read as
    // year 2400. Without an occurredAt it is dated by its arrival.
    const sevenish = "0c5a7e1f-3b2d-7c4e-1f6a-9d8e7c6b5a4f";
    const before = Date.now();
    await events.ingest(
      ingestEventsInput.parse({ events: [{ id: sevenish, externalSessionId: "foreign-ids", eventType: "user" }] }),
    );
    const stored = Date.parse((await events.get({ id: sevenish })).occurredAt);
    expect(stored).toBeGreaterThanOrEqual(before - 1000);
    expect(stored).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("dates an event by its UUIDv7 id, or by its arrival when the id's time is past year 9999 (48 bits reach 10889)", async () => {
    const at = "2026-03-04T05:06:07.089Z";
    const plausible = uuidv7({ msecs: Date.parse(at) });
    const farFuture = "f76956c3-948e-719f-8000-00160000001f"; // year 10590: came in as a hostile hook's header
    const before = Date.now();
    const result = await events.ingest(
      ingestEventsInput.parse({
        events: [plausible, farFuture].map((id) => ({ id, externalSessionId: "v7-times", eventType: "x" })),
      }),
    );
    expect(result.accepted).toBe(2);
    const rows = await db
      .knex("events")
      .whereIn("id", [plausible, farFuture])
      .select<Array<{ id: string; occurred_at: Date }>>("id", "occurred_at");
    const timeOf = (id: string) => expectDefined(rows.find((r) => r.id === id)).occurred_at.getTime();
    expect(timeOf(plausible)).toBe(Date.parse(at));
    expect(timeOf(farFuture)).toBeGreaterThanOrEqual(before - 1);
    expect(timeOf(farFuture)).toBeLessThanOrEqual(Date.now() + 1);
  });

  it("links a child session to its parent by external id, creating the parent when needed", async () => {
    await events.ingest(
      ingestEventsInput.parse({
        events: [{ externalSessionId: "parent-x:agent:1", parentExternalSessionId: "parent-x", eventType: "a" }],
      }),
    );
    const child = await sessions.get({ externalId: "parent-x:agent:1" });
    const parent = await sessions.get({ externalId: "parent-x" });
    expect(child.parentSessionId).toBe(parent.id);
    expect(child.sessionType).toBe("subagent");
  });

  it("derives messages and counts each API response's usage once across a transcript import and a re-import", async () => {
    const { root, files } = transcriptFixtures();
    // The 2.1 fixture: responses split over several lines that repeat message.id and usage.
    const main = expectDefined(
      files.find((f) => f.startsWith("projects/-home-dev-work-ledger/") && !f.includes("/subagents/")),
    );
    await checkTranscriptTokens(readJsonl(join(root, main)), "idle");
  });

  it("lists recent events across sessions and counts by type", async () => {
    const recent = await events.listRecent({ limit: 5 });
    expect(recent.items).toHaveLength(5);
    const times = recent.items.map((e) => e.occurredAt);
    expect([...times].sort().reverse()).toEqual(times);
    const next = await events.listRecent({ limit: 5, cursor: expectDefined(recent.nextCursor) });
    expect(next.items.map((e) => e.id)).not.toContain(expectDefined(recent.items[0]).id);
    const session = await sessions.get({ externalId: "batch-session" });
    expect(await events.countsByType({ sessionId: session.id })).toEqual([{ eventType: "command_sent", count: 50 }]);
    // A session without events has no counts; one that does not exist is NOT_FOUND, as its timeline is.
    expect(await events.countsByType({ sessionId: (await sessions.create({})).id })).toEqual([]);
    const unknown = randomUUID();
    await expect(events.countsByType({ sessionId: unknown })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: `session ${unknown} was not found`,
    });
  });

  it("pages a session's timeline by cursor, and tells an unknown session from an empty page", async () => {
    const session = await sessions.create({ title: "paged" });
    await events.ingest(
      ingestEventsInput.parse({
        events: Array.from({ length: 7 }, (_, i) => ({ sessionId: session.id, eventType: `e${i}` })),
      }),
    );
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await events.listForSession({ sessionId: session.id, limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((e) => e.seq));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await events.listForSession({ sessionId: session.id, limit: 3, afterSeq: 7 })).items).toEqual([]);
    await expect(events.listForSession({ sessionId: uuidv7(), limit: 3 })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("lists a timeline without payloads (the same events otherwise) and gets one whole event by id", async () => {
    const session = await sessions.create({ title: "summaries" });
    const result = await events.ingest(
      ingestEventsInput.parse({
        events: Array.from({ length: 5 }, (_, i) => ({
          sessionId: session.id,
          eventType: i % 2 ? "odd" : "even",
          payload: { i, big: "x".repeat(1000) },
        })),
      }),
    );
    const full = await events.listForSession({ sessionId: session.id, limit: 10, eventTypes: ["odd"] });
    const summaries = await events.listSummariesForSession({ sessionId: session.id, limit: 10, eventTypes: ["odd"] });
    expect(summaries.items).toEqual(full.items.map(({ payload: _payload, ...summary }) => summary));
    expect(summaries.items.every((e) => !("payload" in e))).toBe(true);
    expect(summaries.items.map((e) => e.seq)).toEqual([2, 4]);

    const one = await events.get({ id: expectDefined(result.ids[3]) });
    expect(one).toEqual(full.items[1]);
    expect(one.payload).toEqual({ i: 3, big: "x".repeat(1000) });
    await expect(events.get({ id: uuidv7() })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("pages recent events without skipping rows stored within the same millisecond", async () => {
    const session = await sessions.create({ title: "same-ms" });
    const at = "2030-01-01T00:00:00.500";
    await db.knex("events").insert(
      [1, 2, 3, 4, 5, 6].map((us, i) => ({
        id: uuidv7(),
        session_id: session.id,
        seq: i + 1,
        event_type: "tick",
        source: "hook",
        occurred_at: `${at}${(7 - us) * 100}Z`,
        payload: {},
      })),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await events.listRecent({ limit: 2, from: "2030-01-01T00:00:00Z", ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    await expect(
      events.listRecent({ limit: 2, cursor: Buffer.from(JSON.stringify(["yesterday", 1])).toString("base64url") }),
    ).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
  });
});
