/**
 * A resent event is never stored twice, also now that `occurred_at` is part of the key and
 * picks the partition: an event that names its own id but no time is dated on arrival, so
 * its resend, a week later, would otherwise be another row in another partition.
 */
import { randomUUID } from "node:crypto";

import { ingestEventsInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "./event-service.js";

const WEEK = 7 * 86_400_000;

describe("ingest idempotency by event id", () => {
  let db: TestDatabase;
  let clock = new Date();
  let events: EventService;
  const ingest = (lines: IngestEvent[]) => events.ingest(ingestEventsInput.parse({ events: lines }));
  const count = async (id: string) =>
    (await db.knex("events").where({ id }).count({ n: "*" }).first()) as { n: number };

  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex, now: () => clock });
  });
  afterAll(async () => db.destroy());

  it("an arrival-dated event (own random id, no occurredAt) resent later is a duplicate", async () => {
    const externalSessionId = `retry-${randomUUID()}`;
    const line: IngestEvent = { id: randomUUID(), externalSessionId, eventType: "tick", source: "api" };
    clock = new Date();
    expect(await ingest([line])).toMatchObject({ accepted: 1, duplicates: 0 });
    // The retry arrives a week later: another arrival time, another partition.
    clock = new Date(clock.getTime() + WEEK);
    expect(await ingest([line])).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await count(line.id ?? "")).toEqual({ n: 1 });
  });

  it("two resends racing each other store it once", async () => {
    const externalSessionId = `race-${randomUUID()}`;
    await ingest([{ externalSessionId, eventType: "start", source: "api" }]); // the session exists
    const line: IngestEvent = { id: randomUUID(), externalSessionId, eventType: "tick", source: "api" };
    clock = new Date();
    const results = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        // Each call reads the clock when it starts: four different arrival times.
        clock = new Date(clock.getTime() + i * WEEK);
        return ingest([line]);
      }),
    );
    expect(results.reduce((sum, r) => sum + r.accepted, 0)).toBe(1);
    expect(await count(line.id ?? "")).toEqual({ n: 1 });
  });

  it("events whose time is in their id or given stay keyed by it (no look-up needed)", async () => {
    const externalSessionId = `timed-${randomUUID()}`;
    const withTime: IngestEvent = {
      id: randomUUID(),
      externalSessionId,
      eventType: "tick",
      source: "api",
      occurredAt: new Date().toISOString(),
    };
    const v7: IngestEvent = { id: uuidv7(), externalSessionId, eventType: "tick", source: "api" };
    expect(await ingest([withTime, v7])).toMatchObject({ accepted: 2 });
    clock = new Date(clock.getTime() + WEEK);
    expect(await ingest([withTime, v7])).toMatchObject({ accepted: 0, duplicates: 2 });
  });
});
