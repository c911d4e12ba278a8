import type { Knex } from "knex";

/**
 * A session's sums of redacted secrets and of characters stored as U+FFFD become `bigint`.
 * As `integer` they ended at 2^31 − 1: one client could reach that in a few hundred large
 * posts of NULs or key-shaped text into one session, and from then on every event of that
 * session that had one more was refused (out of range). An event's own counts stay
 * `integer`: one event is at most a request body, far below 2^31.
 *
 * The change rewrites `sessions` and its indexes under an exclusive lock (a second or two per
 * 100,000 sessions); `events` is not touched. `down` narrows them again, and refuses (the
 * migration fails, nothing changes) when a sum no longer fits: never cut silently.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sessions
      ALTER COLUMN redactions TYPE bigint,
      ALTER COLUMN replaced_characters TYPE bigint;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sessions
      ALTER COLUMN redactions TYPE integer,
      ALTER COLUMN replaced_characters TYPE integer;
  `);
}
