import type { Knex } from "knex";

/**
 * `sessions.manual_parent_session_id` references sessions (ON DELETE SET NULL) but had no
 * index, so deleting a session made PostgreSQL scan the whole sessions table once per
 * deleted row to find the sessions that named it as manual parent. The retention purge
 * deletes sessions in thousands: measured by the benchmark (docs/performance.md), 2,000
 * deletes on a 30k-session table spent 28 s in that trigger alone, and the 1M-event purge
 * hit the 60 s statement timeout. Partial like sessions_parent_idx: almost every row is NULL.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    "CREATE INDEX sessions_manual_parent_idx ON sessions (manual_parent_session_id) WHERE manual_parent_session_id IS NOT NULL",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX IF EXISTS sessions_manual_parent_idx");
}
