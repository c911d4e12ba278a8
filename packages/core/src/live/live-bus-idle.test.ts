/**
 * The live bus while nobody subscribes to events: it reads no horizon, and the first
 * subscriber after such a quiet spell still gets every event committed after it came (or
 * after its resume point), once each, in order.
 */
import { ingestEventsInput } from "@logbook/contracts";
import { createKnex, defaultPoolSettings, type Knex } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { openStreamWriter } from "../test-helpers.js";
import { LiveBus, type LiveEvent } from "./live-bus.js";

let db: TestDatabase;
let events: EventService;
beforeAll(async () => {
  db = await createTestDatabase();
  events = new EventService({ knex: db.knex });
});
afterAll(async () => {
  await db.destroy();
});

/** Writes `n` events in one call, from outside the bus under test (another replica, say). */
const send = (tag: string, n = 1) =>
  events.ingest(
    ingestEventsInput.parse({
      events: Array.from({ length: n }, (_, i) => ({
        externalSessionId: "idle",
        eventType: "tick",
        payload: { tag, i },
      })),
    }),
  );

const tagOf = (e: LiveEvent) => (e.event.payload as { tag: string }).tag;

/** Everything a subscription yields up to and including the first event tagged `last`. */
async function until(stream: AsyncIterable<LiveEvent>, last: string): Promise<LiveEvent[]> {
  const got: LiveEvent[] = [];
  for await (const e of stream) {
    got.push(e);
    if (tagOf(e) === last) return got;
  }
  throw new Error(`the stream ended before "${last}"`);
}

/** Positions strictly increasing: in stream order, none twice. */
function expectStreamOrder(got: LiveEvent[]): void {
  const positions = got.map((e) => Number(e.id));
  expect(positions).toEqual([...positions].sort((a, b) => a - b));
  expect(new Set(positions).size).toBe(positions.length);
}

/**
 * A bus on a pool of its own (so the test sees its statements, and can hold its only
 * connection), counting its horizon reads at its query boundary.
 */
async function withBus(
  options: { poolMax?: number; onReconnected?: () => void },
  test: (bus: LiveBus, knex: Knex, counter: { horizonReads: number }) => Promise<void>,
): Promise<void> {
  const knex: Knex = createKnex(db.url, { ...defaultPoolSettings, min: 0, max: options.poolMax ?? 4 });
  const counter = { horizonReads: 0 };
  knex.on("query", (query: { sql?: unknown }) => {
    if (String(query.sql).includes("logbook_stream_horizon")) counter.horizonReads += 1;
  });
  const bus = new LiveBus({
    connectionString: db.url,
    knex,
    ...(options.onReconnected ? { onReconnected: options.onReconnected } : {}),
  });
  await bus.start();
  try {
    await test(bus, knex, counter);
  } finally {
    await bus.stop();
    await knex.destroy();
  }
}

/** Sends a last event, then checks the subscription yields exactly `tags` and it, in stream order. */
async function expectThenEnd(live: AsyncIterable<LiveEvent>, tags: string[]): Promise<LiveEvent[]> {
  await send("end");
  const got = await until(live, "end");
  expect(got.map(tagOf)).toEqual([...tags, "end"]);
  expectStreamOrder(got);
  return got;
}

/** Cuts the LISTEN connection of every bus on this test's database (only one runs at a time). */
const cutListenConnection = () =>
  db.knex.raw(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'logbook-live' AND datname = current_database()",
  );

describe("LiveBus with nobody subscribed to events", () => {
  it("reads no horizon, before its first subscriber and after its last one left", async () => {
    await withBus({}, async (bus, _knex, counter) => {
      // A sessions subscriber does not need the horizon.
      bus.sessions({});
      for (let i = 0; i < 5; i++) await send("unheard", 2);
      await bus.caughtUp(); // every notice above has been handled
      expect(counter.horizonReads).toBe(0);

      // A subscriber makes it read again…
      const live = bus.events({});
      await send("heard", 2);
      expect((await until(live, "heard")).map(tagOf)).toEqual(["heard"]);
      expect(counter.horizonReads).toBeGreaterThan(0);

      // …and once the last one has left, the bus stops at the next notice.
      await send("after-leaving");
      await bus.caughtUp();
      const readsWhenIdle = counter.horizonReads;
      for (let i = 0; i < 5; i++) await send("unheard-again", 2);
      await bus.caughtUp();
      expect(counter.horizonReads).toBe(readsWhenIdle);
    });
  });

  it("gives a subscriber that resumes after a quiet spell exactly what follows its resume point", async () => {
    await withBus({}, async (bus, _knex, counter) => {
      const first = bus.events({});
      await send("seen", 2);
      const seen = await until(first, "seen"); // the first of the two, and the client goes away
      await send("quiet-a", 3);
      await send("quiet-b", 2);
      await bus.caughtUp();
      const idleReads = counter.horizonReads;
      await send("quiet-c");
      await bus.caughtUp();
      expect(counter.horizonReads).toBe(idleReads); // quiet: nobody listens

      const resumed = bus.events({ lastEventId: expectDefined(seen[0]).id });
      await send("after", 2);
      const got = await expectThenEnd(resumed, [
        "seen",
        "quiet-a",
        "quiet-a",
        "quiet-a",
        "quiet-b",
        "quiet-b",
        "quiet-c",
        "after",
        "after",
      ]);
      expect(Number(expectDefined(got[0]).id)).toBeGreaterThan(Number(expectDefined(seen[0]).id));
    });
  });

  it("gives a subscriber without a resume point what is committed after it came, not before", async () => {
    await withBus({}, async (bus) => {
      await send("before", 3);
      await bus.caughtUp();
      const live = bus.events({});
      await send("after", 2);
      await expectThenEnd(live, ["after", "after"]);
    });
  });

  it("misses no write that commits while the first subscriber's horizon is still being read", async () => {
    // The bus's only connection is held: its horizon reading waits until after the write.
    await withBus({ poolMax: 1 }, async (bus, knex) => {
      const held = await knex.transaction();
      const live = bus.events({});
      await send("meanwhile", 2); // committed after the subscriber came, before the reading
      await held.commit();
      await expectThenEnd(live, ["meanwhile", "meanwhile"]);
    });
  });

  it("waits for a writer in flight when the first subscriber came, and keeps stream order", async () => {
    await withBus({}, async (bus) => {
      const slow = await openStreamWriter(db.knex, "slow"); // drew the lower position, commits last
      const fast = await openStreamWriter(db.knex, "fast");
      expect(slow.streamSeq).toBeLessThan(fast.streamSeq);
      await fast.commit();
      await bus.caughtUp();
      const live = bus.events({});
      await slow.commit();
      // `fast` committed before the subscriber came, but above a writer still open then: it
      // comes after `slow`, as it would to any subscriber that joined while `slow` was open.
      await expectThenEnd(live, ["slow", "fast"]);
    });
  });

  it("turns the first subscriber away (UNAVAILABLE) if its LISTEN connection is lost meanwhile; the next one is served", async () => {
    let reconnections = 0;
    await withBus({ poolMax: 1, onReconnected: () => (reconnections += 1) }, async (bus, knex) => {
      const held = await knex.transaction();
      const live = bus.events({});
      const refused = expect(until(live, "never")).rejects.toMatchObject({ code: "UNAVAILABLE" });
      await cutListenConnection();
      await expect.poll(() => reconnections, { timeout: 15_000 }).toBe(1);
      await held.commit();
      await refused;

      const next = bus.events({});
      await send("served");
      expect((await until(next, "served")).map(tagOf)).toEqual(["served"]);
    });
  });

  it("after losing the database connection while idle, a resuming subscriber still misses nothing", async () => {
    let reconnections = 0;
    await withBus({ onReconnected: () => (reconnections += 1) }, async (bus) => {
      const first = bus.events({});
      await send("seen");
      const seen = await until(first, "seen");
      await cutListenConnection();
      await send("while-away", 3); // its notice may be lost with the connection
      await expect.poll(() => reconnections, { timeout: 15_000 }).toBe(1);
      await send("back");
      const resumed = bus.events({ lastEventId: expectDefined(seen[0]).id });
      await expectThenEnd(resumed, ["while-away", "while-away", "while-away", "back"]);
    });
  });
});
