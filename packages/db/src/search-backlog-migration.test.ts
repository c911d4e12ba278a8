import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { migrateOne } from "./migrate.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

const MIGRATION = "20261202002412_search_vector_after_commit";
const DAY = 86_400_000;

/** The search vector as a plain column filled after the commit (issue 16), on the partitioned table. */
describe("search vector after the commit", () => {
  let db: TestDatabase;
  beforeAll(async () => (db = await createTestDatabase()));
  afterAll(async () => db.destroy());

  /** One session holds every event of these tests (made with the first). */
  let session: Promise<string> | null = null;
  let seq = 0;
  async function insert(word: string, occurredAt = new Date()): Promise<string> {
    session ??= db
      .knex("sessions")
      .insert({})
      .returning<Array<{ id: string }>>("id")
      .then((rows) => rows[0]?.id ?? "");
    const id = randomUUID();
    await db.knex("events").insert({
      id,
      session_id: await session,
      seq: ++seq,
      event_type: "UserPromptSubmit",
      source: "hook",
      payload: { prompt: `please look at the ${word}` },
      occurred_at: occurredAt,
    });
    return id;
  }

  /** Per event: whether its vector is stored, and whether it equals the one computed now (as the generated column did). */
  async function vectors(ids: string[]): Promise<Record<string, { stored: boolean; same: boolean }>> {
    const result = await db.knex.raw<{ rows: Array<{ id: string; stored: boolean; same: boolean }> }>(
      `SELECT id, search_vector IS NOT NULL AS stored,
              search_vector IS NOT DISTINCT FROM to_tsvector('english', logbook_event_search_text(message, payload)) AS same
         FROM events WHERE id = ANY(?::uuid[])`,
      [ids],
    );
    return Object.fromEntries(result.rows.map((r) => [r.id, { stored: r.stored, same: r.same }]));
  }

  const backlogIndexes = async () =>
    (
      await db.knex.raw<{ rows: Array<{ n: number }> }>(
        `SELECT count(*)::int AS n FROM pg_indexes
          WHERE indexdef LIKE '%(occurred_at) WHERE (search_vector IS NULL)%'
            AND tablename IN (SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                               WHERE i.inhparent = 'events'::regclass)`,
      )
    ).rows[0]?.n;
  const partitions = async () =>
    (
      await db.knex.raw<{ rows: Array<{ n: number }> }>(
        "SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'events'::regclass",
      )
    ).rows[0]?.n;

  it("keeps the vectors stored before it, and stores new events without one until they are filled", async () => {
    await migrateOne(db.knex, "down", MIGRATION);
    const before = await insert("aardvark");
    await migrateOne(db.knex, "up", MIGRATION);
    const after = await insert("pangolin");
    expect(await vectors([before, after])).toEqual({
      [before]: { stored: true, same: true },
      [after]: { stored: false, same: false },
    });
    await db.knex.raw(
      "UPDATE events SET search_vector = logbook_event_search_vector(message, payload) WHERE search_vector IS NULL",
    );
    expect(await vectors([after])).toEqual({ [after]: { stored: true, same: true } });
  });

  it("gives every partition, later ones too, the backlog index, and a new range keeps moved rows' vectors", async () => {
    expect(await backlogIndexes()).toBe(await partitions());
    // Beyond the last range: the default partition holds it until a range is made for it.
    const far = new Date(Date.now() + 200 * DAY);
    const indexed = await insert("okapi", far);
    const pending = await insert("tapir", new Date(far.getTime() + 1000));
    await db.knex.raw("UPDATE events SET search_vector = logbook_event_search_vector(message, payload) WHERE id = ?", [
      indexed,
    ]);
    const made = await db.knex.raw<{ rows: Array<{ n: number }> }>(
      "SELECT logbook_ensure_event_partitions(7, 40) AS n",
    );
    expect(made.rows[0]?.n).toBeGreaterThan(0);
    expect(await backlogIndexes()).toBe(await partitions());
    expect(await vectors([indexed, pending])).toEqual({
      [indexed]: { stored: true, same: true },
      [pending]: { stored: false, same: false },
    });
  });

  it("goes down to the generated column (every vector computed) and up again", async () => {
    const pending = await insert("quoll");
    await migrateOne(db.knex, "down", MIGRATION);
    expect(await vectors([pending])).toEqual({ [pending]: { stored: true, same: true } });
    await migrateOne(db.knex, "up", MIGRATION);
    expect(await vectors([pending])).toEqual({ [pending]: { stored: true, same: true } });
    expect(await backlogIndexes()).toBe(await partitions());
  });
});
