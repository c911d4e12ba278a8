import type { Knex } from "knex";

/**
 * `events_session_occurred_idx (session_id, occurred_at)` repeats the leading columns of
 * the primary key `(session_id, occurred_at, id)`, which serves every query it did (a
 * session's events by time) just as well. Each index costs every ingested row an index
 * insertion and WAL; the benchmark's ingest case pays for ten of them per event.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX IF EXISTS events_session_occurred_idx");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("CREATE INDEX IF NOT EXISTS events_session_occurred_idx ON events (session_id, occurred_at)");
}
