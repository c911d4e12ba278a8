import type { Knex } from "knex";

/**
 * Indexes that every ingest call writes and no query reads (issue 15, PostgreSQL's cost per
 * ingest call; docs/performance.md, "Issue 15 — PostgreSQL per call"):
 * - `events_payload_gin` (`payload jsonb_path_ops`): no service, procedure or report asks a
 *   containment question of payloads (search has its own indexes). Every event put each of
 *   its payload's paths into it (a ~1.3 KB hook payload: dozens of entries, and the pending
 *   list's merges that some later insert pays for).
 * - `sessions_label_last_activity_idx` becomes partial (`WHERE label IS NOT NULL`): its only
 *   reader is `sessions.list` filtered by one label (`label = $1`, which implies the
 *   predicate), while every version of every unlabelled session row (each ingest call makes
 *   one: `last_activity_at` moves) was an entry of it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX events_payload_gin");
  await knex.raw("DROP INDEX sessions_label_last_activity_idx");
  await knex.raw(
    "CREATE INDEX sessions_label_last_activity_idx ON sessions (label, last_activity_at DESC, id DESC) WHERE label IS NOT NULL",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX sessions_label_last_activity_idx");
  await knex.raw("CREATE INDEX sessions_label_last_activity_idx ON sessions (label, last_activity_at DESC, id DESC)");
  await knex.raw("CREATE INDEX events_payload_gin ON events USING gin (payload jsonb_path_ops)");
}
