import type { Knex } from "knex";

/**
 * `sessions.list` filtered by label (a dashboard filter) had no index to walk: PostgreSQL
 * walked sessions_last_activity_idx newest first and dropped every row of another label, so
 * the cost grew with the number of sessions (docs/performance.md: 11.2 ms and 1,594 buffers
 * at 20k sessions). With the label first and the list's order after it, a page is one
 * direct index walk of `limit + 1` rows, in both sorts' tie-break order (id DESC).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("CREATE INDEX sessions_label_last_activity_idx ON sessions (label, last_activity_at DESC, id DESC)");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX IF EXISTS sessions_label_last_activity_idx");
}
