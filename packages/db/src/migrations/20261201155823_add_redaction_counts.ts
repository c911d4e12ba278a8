import type { Knex } from "knex";

/**
 * How many secrets were replaced before an event was stored (issue 16: redaction), per
 * event and summed per session, so a reader sees that something was taken out. A constant
 * default: PostgreSQL adds such a column without rewriting the table.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE events ADD COLUMN redactions integer NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN redactions integer NOT NULL DEFAULT 0;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sessions DROP COLUMN redactions;
    ALTER TABLE events DROP COLUMN redactions;
  `);
}
