import { randomBytes } from "node:crypto";

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";

import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { createKnex } from "./connection.js";
import { migrateLatest } from "./migrate.js";
import { databaseUrlFor } from "./testing/index.js";

/**
 * The search migration creates pg_trgm. The server migrates as Logbook's own role, which
 * is no superuser (embedded.ts: the database's owner, nothing more): the migration, and
 * search through both indexes, must work for such a role.
 */
describe("search migration as a non-superuser database owner", () => {
  const suffix = randomBytes(5).toString("hex");
  const role = `logbook_search_owner_${suffix}`;
  const database = `logbook_search_${suffix}`;
  const password = randomBytes(16).toString("hex");
  const admin = new pg.Client({ connectionString: inject("logbookAdminDatabaseUrl") });

  beforeAll(async () => {
    await admin.connect();
    await admin.query(
      `CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${pg.escapeLiteral(password)}`,
    );
    await admin.query(`CREATE DATABASE ${database} OWNER ${role} TEMPLATE template0`);
    await admin.query(`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`);
  });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  it("migrates, and both the full-text and the trigram index answer", async () => {
    const url = new URL(databaseUrlFor(inject("logbookAdminDatabaseUrl"), database));
    url.username = role;
    url.password = password;
    const knex = createKnex(url.toString());
    try {
      const super_ = await knex.raw<{ rows: Array<{ rolsuper: boolean }> }>(
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
      );
      expect(super_.rows[0]?.rolsuper).toBe(false);
      await migrateLatest(knex);
      const [session] = await knex("sessions").insert({}).returning<Array<{ id: string }>>("id");
      await knex("events").insert({
        id: "00000000-0000-4000-8000-000000000001",
        session_id: expectDefined(session, "the new session").id,
        seq: 1,
        event_type: "PreToolUse",
        source: "hook",
        message: "Edit: /repo/src/event-service.ts",
        payload: { tool_input: { file_path: "/repo/src/event-service.ts", new_string: "quokka" } },
        occurred_at: new Date(),
      });
      const found = await knex.raw<{ rows: Array<{ fts: boolean; trgm: boolean; similar: boolean }> }>(
        `SELECT search_vector @@ websearch_to_tsquery('english', 'quokka') AS fts,
                left(message, 256) ILIKE '%service.ts%' AS trgm,
                similarity(message, 'event-service') > 0 AS similar
         FROM events`,
      );
      expect(found.rows).toEqual([{ fts: true, trgm: true, similar: true }]);
    } finally {
      await knex.destroy();
    }
  });
});
