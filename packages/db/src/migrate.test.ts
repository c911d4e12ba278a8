import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { migrateLatest, migrateLatestAt, migrateRollback, migrationStatus } from "./migrate.js";
import { TABLES } from "./tables.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

async function tablesIn(db: TestDatabase): Promise<string[]> {
  const result = await db.knex.raw<{ rows: Array<{ tablename: string }> }>(
    // Partitions of events are part of it, not tables of their own.
    `SELECT relname AS tablename FROM pg_class
      WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition
        AND relname NOT LIKE 'knex_%' ORDER BY 1`,
  );
  return result.rows.map((r) => r.tablename);
}

describe("migrations", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => db.destroy());

  it("go up, all the way down, and up again on a real database", async () => {
    expect(await tablesIn(db)).toEqual([]);
    const applied = await migrateLatest(db.knex);
    expect(applied.length).toBeGreaterThanOrEqual(5);
    expect(await tablesIn(db)).toEqual([...TABLES].sort());
    expect((await migrationStatus(db.knex)).current).toBe(true);

    const undone = await migrateRollback(db.knex, { all: true });
    expect(undone).toHaveLength(applied.length);
    expect(await tablesIn(db)).toEqual([]);
    expect((await migrationStatus(db.knex)).pending).toHaveLength(applied.length);
    const functions = await db.knex.raw<{ rows: unknown[] }>(
      "SELECT 1 FROM pg_proc WHERE proname = 'logbook_set_updated_at'",
    );
    expect(functions.rows).toHaveLength(0);

    expect(await migrateLatest(db.knex)).toEqual(applied);
    expect(await tablesIn(db)).toEqual([...TABLES].sort());
    expect(await migrateLatest(db.knex)).toEqual([]);
  });
});

describe("migrations from replicas starting together", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => db.destroy());

  it("take turns: every start succeeds and the migrations are applied once", async () => {
    // Without the advisory lock, Knex's own lock table makes all but one of these fail
    // ("Migration table is already locked"), or the first creation of that table races.
    const runs = await Promise.all([1, 2, 3, 4].map(() => migrateLatestAt(db.url)));
    const applied = runs.flat();
    expect(runs.filter((names) => names.length > 0)).toHaveLength(1);
    expect(new Set(applied).size).toBe(applied.length);
    expect((await migrationStatus(db.knex)).current).toBe(true);
    expect(await tablesIn(db)).toEqual([...TABLES].sort());
  });
});
