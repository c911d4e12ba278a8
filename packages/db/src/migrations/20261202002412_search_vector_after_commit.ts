import type { Knex } from "knex";

/**
 * The search vector is computed after the commit, not by the insert (issue 16: a generated
 * column cost ingest 46% of its throughput, docs/performance.md).
 *
 * - `search_vector` stays, with its values, as a plain nullable column (`DROP EXPRESSION`
 *   keeps what is stored; on the partitioned table it applies to every partition, and
 *   partitions made later inherit the plain column). NULL means "not indexed yet": a new
 *   event is stored without it and the server's search indexer fills it in batches.
 * - `events_search_backlog_idx`, partial on `search_vector IS NULL`, finds that backlog
 *   oldest first at the cost of the backlog alone (empty when caught up); the search reads
 *   it too, to match the not-yet-indexed events by a vector computed on the fly.
 * - `logbook_event_search_vector(message, payload)` is the one definition of the vector,
 *   used by the indexer and by that on-the-fly match, so both give the very same vector the
 *   generated column did.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION logbook_event_search_vector(message text, payload jsonb) RETURNS tsvector
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $fn$
      SELECT to_tsvector('english', logbook_event_search_text(message, payload))
    $fn$;
    ALTER TABLE events ALTER COLUMN search_vector DROP EXPRESSION;
    CREATE INDEX events_search_backlog_idx ON events (occurred_at) WHERE search_vector IS NULL;
  `);
}

/** Back to the generated column: rewrites the table, computing every vector again. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX events_search_backlog_idx;
    ALTER TABLE events DROP COLUMN search_vector;
    ALTER TABLE events ADD COLUMN search_vector tsvector
      GENERATED ALWAYS AS (to_tsvector('english', logbook_event_search_text(message, payload))) STORED;
    CREATE INDEX events_search_idx ON events USING gin (search_vector);
    DROP FUNCTION logbook_event_search_vector(text, jsonb);
  `);
}
