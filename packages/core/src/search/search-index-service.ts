import type { Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";

/** What is left to index: events stored without a search vector yet, and the oldest one's time. */
export interface SearchBacklog {
  events: number;
  oldest: Date | null;
}

/**
 * Fills `events.search_vector` after the commit (issue 16; migration
 * 20261202002412_search_vector_after_commit). Ingest stores events without a vector, so
 * computing it (to_tsvector over the event's text, most of the cost) is off the insert
 * path; the server's search indexer calls `fillBatch` until the backlog is empty.
 *
 * - The state is the data: NULL means "not indexed yet". A stopped or crashed indexer
 *   loses nothing; the next one starts where the table says.
 * - Oldest first (by `occurred_at`, through the backlog's partial index), in small
 *   batches, each its own short transaction: a burst of ingest is not held up by one long
 *   update, and what has been filled stays filled.
 * - `FOR UPDATE SKIP LOCKED`: several servers fill at once, each its own rows, none waits
 *   for another.
 * - Readers do not wait for it: the search matches not-yet-indexed events by the same
 *   vector computed on the fly (search-service.ts).
 */
export class SearchIndexService {
  private readonly knex: Knex;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
  }

  /** Computes the vectors of up to `limit` not-yet-indexed events, oldest first; returns how many. */
  async fillBatch(limit: number): Promise<number> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`batch size must be a positive integer: ${limit}`);
    const result = await this.knex.raw<{ rowCount: number | null }>(
      `WITH todo AS (
         SELECT id, occurred_at FROM events
          WHERE search_vector IS NULL
          ORDER BY occurred_at
          LIMIT ?
          FOR UPDATE SKIP LOCKED
       )
       UPDATE events e SET search_vector = logbook_event_search_vector(e.message, e.payload)
         FROM todo
        WHERE e.id = todo.id AND e.occurred_at = todo.occurred_at`,
      [limit],
    );
    return result.rowCount ?? 0;
  }

  /** Fills batches until the backlog is empty (or `shouldStop` says so); returns how many were filled. */
  async fillAll(batchSize: number, shouldStop: () => boolean = () => false): Promise<number> {
    let total = 0;
    for (;;) {
      const filled = await this.fillBatch(batchSize);
      total += filled;
      if (filled < batchSize || shouldStop()) return total;
    }
  }

  /** How many events wait for their vector (counted through the backlog's partial index). */
  async backlog(): Promise<SearchBacklog> {
    const result = await this.knex.raw<{ rows: Array<{ events: number; oldest: Date | null }> }>(
      "SELECT count(*)::int AS events, min(occurred_at) AS oldest FROM events WHERE search_vector IS NULL",
    );
    const row = result.rows[0];
    return { events: row?.events ?? 0, oldest: row?.oldest ?? null };
  }
}
