import { ingestEventsInput } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { waitFor } from "@logbook/vitest-config/wait-for";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { SessionService } from "../sessions/session-service.js";
import { LiveBus, type LiveEvent } from "./live-bus.js";

/**
 * A committed event whose notice never came (its writer's server died between the commit and
 * the notice) still reaches a live subscriber: the bus reads the horizon every
 * `horizonCheckMs` while someone subscribes, whatever the notices do.
 */
describe("LiveBus without a notice", () => {
  let db: TestDatabase;
  let bus: LiveBus;
  let events: EventService;
  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    // Short, so the test is quick; the wait below is bounded by its own deadline, not by this.
    bus = new LiveBus({ connectionString: db.url, knex: db.knex, horizonCheckMs: 200 });
    await bus.start();
  });
  afterAll(async () => {
    await bus.stop();
    await db.destroy();
  });

  /** Every event the subscription yields, as it comes. */
  function collect(live: AsyncIterable<LiveEvent>): LiveEvent[] {
    const got: LiveEvent[] = [];
    void (async () => {
      for await (const item of live) got.push(item);
    })();
    return got;
  }
  const tagOf = (e: LiveEvent) => (e.event.payload as { tag?: string }).tag;

  it("delivers an event committed without a notice, in stream order after what came before", async () => {
    const got = collect(bus.events({}));
    await events.ingest(
      ingestEventsInput.parse({
        events: [{ externalSessionId: "lost-1", eventType: "tick", payload: { tag: "noticed" } }],
      }),
    );
    await waitFor("the noticed event", () => got.some((e) => tagOf(e) === "noticed"), { deadlineMs: 20_000 });

    // Written by SQL, committed, and never announced.
    const session = await new SessionService({ knex: db.knex }).create({ externalId: "lost-2" });
    await db.knex.raw(
      `INSERT INTO events (id, session_id, seq, event_type, source, occurred_at, payload)
       VALUES (gen_random_uuid(), ?, 1, 'tick', 'api', now(), ?)`,
      [session.id, JSON.stringify({ tag: "silent" })],
    );
    await waitFor("the event whose notice never came", () => got.some((e) => tagOf(e) === "silent"), {
      deadlineMs: 20_000,
    });
    expect(got.map(tagOf)).toEqual(["noticed", "silent"]);
    const positions = got.map((e) => Number(e.id));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});
