import type { Knex } from "knex";

/**
 * The session's own records (messages, files, steps, artifacts) get keys that lead with
 * `session_id`, as `events` has: `(session_id, id)` instead of `(id)`. A distributed
 * PostgreSQL (Citus, docs/scaling.md) can only keep a unique key that contains the
 * distribution column; with these, the records can be co-located with their session's
 * events. Lookups by id alone keep an index of their own (ids are random UUIDs: unique in
 * practice, no longer enforced by the database).
 *
 * The artifact → step reference becomes `(session_id, step_id) → steps (session_id, id)`,
 * which also states in the schema what the artifact service already checks (a step of the
 * same session). It is NO ACTION instead of SET NULL: a composite SET NULL would null
 * `session_id` too (the column list form needs PostgreSQL 15; we support 14), and steps are
 * never deleted alone, only with their session, together with its artifacts.
 */
const TABLES = ["session_messages", "files", "steps", "artifacts"] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE artifacts DROP CONSTRAINT artifacts_step_id_foreign");
  for (const table of TABLES) {
    await knex.raw(`
      ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey;
      ALTER TABLE ${table} ADD CONSTRAINT ${table}_pkey PRIMARY KEY (session_id, id);
      CREATE INDEX ${table}_id_idx ON ${table} (id);
    `);
  }
  await knex.raw(`
    ALTER TABLE artifacts ADD CONSTRAINT artifacts_step_fkey
      FOREIGN KEY (session_id, step_id) REFERENCES steps (session_id, id);
    CREATE INDEX artifacts_step_idx ON artifacts (session_id, step_id) WHERE step_id IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX artifacts_step_idx; ALTER TABLE artifacts DROP CONSTRAINT artifacts_step_fkey");
  for (const table of [...TABLES].reverse()) {
    await knex.raw(`
      DROP INDEX ${table}_id_idx;
      ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey;
      ALTER TABLE ${table} ADD CONSTRAINT ${table}_pkey PRIMARY KEY (id);
    `);
  }
  await knex.raw(
    "ALTER TABLE artifacts ADD CONSTRAINT artifacts_step_id_foreign FOREIGN KEY (step_id) REFERENCES steps (id) ON DELETE SET NULL",
  );
}
