import { ingestEventsInput } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { ApiKeyService } from "../api-keys/api-key-service.js";
import { EventService } from "../events/event-service.js";
import { SessionService } from "../sessions/session-service.js";
import { LiveBus, type LiveEvent } from "./live-bus.js";

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
