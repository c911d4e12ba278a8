import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { migrateOne } from "./migrate.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

const MIGRATION = "20261201162404_partition_events_by_time";
const DAY = 86_400_000;

/** The events table's time partitioning: the conversion both ways, the ranges, the default partition. */
describe("events partitioned by occurred_at", () => {
  let db: TestDatabase;
  let sessionId: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    const [row] = await db.knex("sessions").insert({}).returning<Array<{ id: string }>>("id");
    sessionId = row?.id ?? "";
  });
  afterAll(async () => db.destroy());

  let seq = 0;
  async function insertAt(occurredAt: Date): Promise<string> {
    const id = randomUUID();
    await db
      .knex("events")
      .insert({ id, session_id: sessionId, seq: ++seq, event_type: "tick", source: "api", occurred_at: occurredAt });
    return id;
  }

  /** The table (partition) each of `ids` is stored in. */
  async function homes(ids: string[]): Promise<Record<string, string>> {
    const rows = (await db
      .knex("events")
      .select(db.knex.raw("id, tableoid::regclass::text AS home"))
      .whereIn("id", ids)) as Array<{
      id: string;
      home: string;
    }>;
    return Object.fromEntries(rows.map((r) => [r.id, r.home]));
  }

  const kind = async () =>
    (
      await db.knex.raw<{ rows: Array<{ relkind: string }> }>(
        "SELECT relkind FROM pg_class WHERE oid = 'events'::regclass",
      )
    ).rows[0]?.relkind;
  const indexNames = async () =>
    (
      await db.knex.raw<{ rows: Array<{ name: string }> }>(
        "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'events'::regclass ORDER BY 1",
      )
    ).rows.map((r) => r.name);
  const constraintNames = async () =>
    (
      await db.knex.raw<{ rows: Array<{ name: string }> }>(
        "SELECT conname AS name FROM pg_constraint WHERE conrelid = 'events'::regclass ORDER BY 1",
      )
    ).rows.map((r) => r.name);

  it("puts each event in the range of its time, and unplaceable ones in the default partition", async () => {
    expect(await kind()).toBe("p");
    const now = Date.now();
    const recent = await insertAt(new Date(now));
    const epoch = await insertAt(new Date(0)); // the importer's "time unknown"
    const farFuture = await insertAt(new Date(now + 400 * DAY));
    const placed = await homes([recent, epoch, farFuture]);
    expect(placed[recent]).toMatch(/^events_p\d{8}$/);
    expect(placed[epoch]).toBe("events_default");
    expect(placed[farFuture]).toBe("events_default");
  });

  it("creates ranges ahead on demand, moving the default partition's rows of a new range into it", async () => {
    const soon = await insertAt(new Date(Date.now() + 45 * DAY)); // beyond the 4 weeks made ahead
    expect((await homes([soon]))[soon]).toBe("events_default");
    const created = await db.knex.raw<{ rows: Array<{ n: number }> }>(
      "SELECT logbook_ensure_event_partitions(7, 4, now() + interval '30 days') AS n",
    );
    expect(created.rows[0]?.n).toBeGreaterThan(0);
    expect((await homes([soon]))[soon]).toMatch(/^events_p\d{8}$/);
    // Ranges follow one another without gaps or overlaps.
    const ranges = (
      await db.knex.raw<{ rows: Array<{ lower_bound: Date; upper_bound: Date }> }>(
        "SELECT * FROM logbook_event_partitions()",
      )
    ).rows;
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i]?.lower_bound.getTime()).toBe(ranges[i - 1]?.upper_bound.getTime());
    }
    // Nothing left to do: a second call creates nothing.
    const again = await db.knex.raw<{ rows: Array<{ n: number }> }>(
      "SELECT logbook_ensure_event_partitions(7, 4, now() + interval '30 days') AS n",
    );
    expect(again.rows[0]?.n).toBe(0);
  });

  it("converts back (down) and forth (up) keeping every row, key, index name and the stream position", async () => {
    const before = { indexes: await indexNames(), constraints: await constraintNames() };
    const rows = await db.knex("events").select("id", "stream_seq", "occurred_at").orderBy("stream_seq");
    expect(rows.length).toBeGreaterThan(0);

    expect(await migrateOne(db.knex, "down", MIGRATION)).toEqual([MIGRATION]);
    expect(await kind()).toBe("r");
    expect(await db.knex("events").select("id", "stream_seq", "occurred_at").orderBy("stream_seq")).toEqual(rows);
    expect(await indexNames()).toEqual(before.indexes);
    expect(await constraintNames()).toEqual(before.constraints);
    const functions = await db.knex.raw<{ rows: unknown[] }>(
      "SELECT 1 FROM pg_proc WHERE proname LIKE 'logbook_%event_partition%'",
    );
    expect(functions.rows).toEqual([]);
    // The sequence survived: a new event continues after the last stream position.
    const id = await insertAt(new Date());
    const fresh = await db.knex("events").where({ id }).first<{ stream_seq: number } | undefined>("stream_seq");
    const last = Math.max(...(rows as Array<{ stream_seq: number }>).map((r) => Number(r.stream_seq)));
    expect(fresh?.stream_seq).toBeGreaterThan(last);

    expect(await migrateOne(db.knex, "up", MIGRATION)).toEqual([MIGRATION]);
    expect(await kind()).toBe("p");
    expect(await db.knex("events").count({ n: "*" }).first()).toEqual({ n: rows.length + 1 });
    expect(await indexNames()).toEqual(before.indexes);
    expect(await constraintNames()).toEqual(before.constraints);
  });

  it("still refuses a second copy of the same key", async () => {
    const at = new Date();
    const id = await insertAt(at);
    await expect(
      db
        .knex("events")
        .insert({ id, session_id: sessionId, seq: ++seq, event_type: "tick", source: "api", occurred_at: at }),
    ).rejects.toThrow(/duplicate key/);
  });
});
