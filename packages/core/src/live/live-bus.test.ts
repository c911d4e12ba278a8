import { ingestEventsInput } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { ApiKeyService } from "../api-keys/api-key-service.js";
import { EventService } from "../events/event-service.js";
import { SessionService } from "../sessions/session-service.js";
import { openStreamWriter } from "../test-helpers.js";
import { LiveBus, readStreamHorizon, type LiveEvent } from "./live-bus.js";

async function take<T>(iterable: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length === n) break;
  }
  return out;
}

async function firstWhere<T>(iterable: AsyncIterable<T>, wanted: (item: T) => boolean): Promise<T> {
  for await (const item of iterable) if (wanted(item)) return item;
  throw new Error("the stream ended before a matching item arrived");
}

describe("LiveBus", () => {
  let db: TestDatabase;
  let busA: LiveBus;
  let busB: LiveBus;
  let events: EventService;
  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    // Two buses on one database stand for two server replicas.
    busA = new LiveBus({ connectionString: db.url, knex: db.knex });
    busB = new LiveBus({ connectionString: db.url, knex: db.knex });
    await busA.start();
    await busB.start();
  });
  afterAll(async () => {
    await busA.stop();
    await busB.stop();
    await db.destroy();
  });

  const send = (externalSessionId: string, n: number, tag: string) =>
    events.ingest(
      ingestEventsInput.parse({
        events: Array.from({ length: n }, (_, i) => ({ externalSessionId, eventType: "tick", payload: { tag, i } })),
      }),
    );

  it("delivers an event written through one replica to a subscriber of another", async () => {
    const received = take(busB.events({}), 3);
    await send("live-1", 3, "cross");
    const got = await received;
    expect(got.map((e) => (e.event.payload as { i: number }).i)).toEqual([0, 1, 2]);
  });

  it("filters by session", async () => {
    const target = await new SessionService({ knex: db.knex }).create({ externalId: "live-other" });
    const received = take(busA.events({ sessionId: target.id }), 2);
    await send("live-noise", 5, "noise");
    await send("live-other", 2, "mine");
    const got = await received;
    expect(got.every((e) => e.event.sessionId === target.id)).toBe(true);
    expect(got.map((e) => (e.event.payload as { tag: string }).tag)).toEqual(["mine", "mine"]);
  });

  it("resumes after a disconnect from the last event id without missing or repeating anything", async () => {
    const first = take(busA.events({}), 2);
    await send("resume", 2, "before");
    const seen: LiveEvent[] = await first; // the iterator is closed here: the client went away
    await send("resume", 4, "while-away");
    const resumed = take(busB.events({ lastEventId: expectDefined(seen[1]).id }), 6);
    await send("resume", 2, "after");
    const got = await resumed;
    expect(got.map((e) => (e.event.payload as { tag: string }).tag)).toEqual([
      "while-away",
      "while-away",
      "while-away",
      "while-away",
      "after",
      "after",
    ]);
    expect(new Set(got.map((e) => e.id)).size).toBe(6);
  });

  const openWriter = (tag: string) => openStreamWriter(db.knex, tag);

  const tagOf = (e: LiveEvent) => (e.event.payload as { tag: string }).tag;

  it("never hands out a position above a writer still in flight: a resume after it misses nothing", async () => {
    await busA.caughtUp(); // earlier tests' events are behind it, not in this subscription
    const live = busA.events({});
    const slow = await openWriter("slow"); // draws the lower position, commits last
    const fast = await openWriter("fast");
    expect(slow.streamSeq).toBeLessThan(fast.streamSeq);
    await fast.commit();
    await busA.caughtUp(); // busA has handled the fast writer's notice while the slow one is open
    await slow.commit();
    const [first] = await take(live, 1); // the client goes away after its first event…
    const resumed = busB.events({ lastEventId: expectDefined(first).id }); // …and comes back elsewhere
    await send("gap-marker", 1, "marker");
    const rest: LiveEvent[] = [];
    for await (const e of resumed) {
      rest.push(e);
      if (tagOf(e) === "marker") break;
    }
    expect([expectDefined(first), ...rest].map(tagOf)).toEqual(["slow", "fast", "marker"]);
  });

  it("moves past a writer that rolled back (it sends no notice)", async () => {
    await busA.caughtUp();
    const live = busA.events({});
    const dropped = await openWriter("dropped");
    const kept = await openWriter("kept");
    await kept.commit();
    await busA.caughtUp();
    await dropped.rollback();
    const [got] = await take(live, 1);
    expect(tagOf(expectDefined(got))).toBe("kept");
  });

  it("reads a horizon that names every writer that may still hold a position up to it", async () => {
    const slow = await openWriter("horizon-slow");
    const fast = await openWriter("horizon-fast");
    await fast.commit();
    const reading = await readStreamHorizon(db.knex);
    expect(reading.lastSeq).toBeGreaterThanOrEqual(fast.streamSeq);
    expect(reading.writers).toHaveLength(1); // the slow one; the fast one has ended
    await slow.commit();
    expect((await readStreamHorizon(db.knex)).writers).toEqual([]);
  });

  it("refuses a resume token it never handed out", async () => {
    await expect(take(busA.events({ lastEventId: "not-a-token" }), 1)).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });

  it("reports session changes", async () => {
    // Earlier tests' sessions may still send a late notice; wait for this one's.
    const change = firstWhere(busB.sessions({}), (session) => session.title === "watched");
    const created = await new SessionService({ knex: db.knex }).create({ title: "watched" });
    expect((await change).id).toBe(created.id);
  });

  it("tells its owner at once about a key revoked by another process, and when its connection came back", async () => {
    const revoked: string[] = [];
    let reconnections = 0;
    const bus = new LiveBus({
      connectionString: db.url,
      knex: db.knex,
      onKeyRevoked: (keyId) => revoked.push(keyId),
      onReconnected: () => (reconnections += 1),
    });
    await bus.start();
    try {
      // Another process (a replica, the CLI) revokes through its own service.
      const keys = new ApiKeyService({ knex: db.knex });
      const { key } = await keys.create({ name: "bus-revoked", scopes: ["read"] });
      await keys.revoke({ id: key.id });
      await expect.poll(() => revoked, { timeout: 10_000 }).toEqual([key.id]);
      expect(reconnections).toBe(0);

      // Its LISTEN connection is cut: notices sent meanwhile are lost, so it says so on return.
      await db.knex.raw(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'logbook-live' AND datname = current_database()",
      );
      await expect.poll(() => reconnections, { timeout: 15_000 }).toBe(1);
    } finally {
      await bus.stop();
    }
  });
});
