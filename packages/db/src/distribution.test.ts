import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { SESSION_COLOCATED_TABLES } from "./tables.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

/**
 * The rules the scale-out plan (docs/scaling.md) depends on, read from the migrated
 * schema: a migration that breaks one fails here, not on the day the data is distributed.
 */
describe("schema rules for distribution and partitioning", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.destroy());

  /** Unique keys (primary keys, unique constraints and unique indexes) of a table, with their columns. */
  async function uniqueKeys(table: string): Promise<Array<{ name: string; columns: string[] }>> {
    const result = await db.knex.raw<{ rows: Array<{ name: string; columns: string[] }> }>(
      `SELECT ic.relname AS name,
              array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
         LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = ?::regclass AND i.indisunique
          AND k.ord <= i.indnkeyatts
        GROUP BY ic.relname`,
      [table],
    );
    return result.rows;
  }

  it.each(SESSION_COLOCATED_TABLES)("every unique key of %s contains session_id", async (table) => {
    const keys = await uniqueKeys(table);
    expect(keys.length).toBeGreaterThan(0); // at least the primary key
    for (const key of keys) expect(key.columns, `${table}: ${key.name}`).toContain("session_id");
  });

  it("every unique key of events contains occurred_at (range partitioning by time)", async () => {
    for (const key of await uniqueKeys("events")) expect(key.columns, key.name).toContain("occurred_at");
  });

  it("sessions are keyed by their id alone (the distribution column of everything co-located)", async () => {
    const keys = await uniqueKeys("sessions");
    expect(keys.find((k) => k.name === "sessions_pkey")?.columns).toEqual(["id"]);
  });

  it("no foreign key points into events", async () => {
    const result = await db.knex.raw<{ rows: Array<{ conname: string }> }>(
      "SELECT conname FROM pg_constraint WHERE contype = 'f' AND confrelid = 'events'::regclass",
    );
    expect(result.rows).toEqual([]);
  });

  it("references among co-located tables carry session_id on both sides", async () => {
    const result = await db.knex.raw<{ rows: Array<{ conname: string; from: string[]; to: string[] }> }>(
      `SELECT c.conname,
              (SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = ANY (c.conkey)) AS from,
              (SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = c.confrelid AND attnum = ANY (c.confkey)) AS to
         FROM pg_constraint c
        WHERE c.contype = 'f'
          AND c.conrelid::regclass::text = ANY (?::text[])
          AND c.confrelid::regclass::text = ANY (?::text[])`,
      [[...SESSION_COLOCATED_TABLES], [...SESSION_COLOCATED_TABLES]],
    );
    expect(result.rows.length).toBeGreaterThan(0); // artifacts → steps
    for (const fk of result.rows) {
      expect(fk.from, fk.conname).toContain("session_id");
      expect(fk.to, fk.conname).toContain("session_id");
    }
  });
});
