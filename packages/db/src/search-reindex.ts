import type { Knex } from "knex";

import { ADDED_TEXT_KEYS } from "./migrations/20261204100000_search_titles_and_summaries.js";

/**
 * Brings stored `events.search_vector` values up to date with the search-text functions
 * (`logbook-server reindex-search`). The column is generated and stored, so a migration
 * that changes what the functions read (such as `20261203070000_search_every_tool_input`)
 * leaves the rows stored before with their old vector until each is written again; an
 * `UPDATE … SET payload = payload` makes PostgreSQL compute it anew and changes nothing
 * else a reader sees (no trigger on events; `stream_seq`, times and ids stay).
 *
 * - Only rows whose stored vector differs from a fresh one are written, so a second run
 *   writes none, and an interrupted run goes on where it stopped when started again.
 * - By default only the rows the changes of the search text can touch are compared
 *   (`CHANGED_ROWS`: a tool call in `message.content`, or one of the keys added to the
 *   text): comparing a row means computing its vector, the costly part. `all` compares
 *   every row.
 * - Each partition is read in ranges of heap pages (a TID range scan: no index needed,
 *   the same cost per range wherever it is), one short transaction per range, so ingest
 *   and readers go on meanwhile. A partition dropped by retention meanwhile is skipped.
 */

/**
 * The rows the changes of the search text since it was made can touch: a content block with a
 * tool call's input (`20261203070000_search_every_tool_input`), or a top-level key that
 * `20261204100000_search_titles_and_summaries` reads. The keys are plain identifiers
 * (checked where the function is made), so they go into the SQL as they are.
 */
const CHANGED_ROWS = `(payload @\\? 'strict $.message.content[*] \\? (exists(@.input))'
  OR payload \\?| ARRAY[${ADDED_TEXT_KEYS.map((key) => `'${key}'`).join(", ")}])`;
const STALE = "search_vector IS DISTINCT FROM to_tsvector('english', logbook_event_search_text(message, payload))";

export const DEFAULT_REINDEX_PAGES_PER_BATCH = 1_000;

export interface ReindexSearchOptions {
  /** Compare every row, not only those the changes of the search text can touch. */
  all?: boolean;
  /** Heap pages (8 KB each) read per transaction. */
  pagesPerBatch?: number;
  /** Called after each partition. */
  onPartition?: (done: ReindexedPartition) => void;
  /** Called after each batch, for progress on a partition that takes minutes. */
  onBatch?: (progress: ReindexProgress) => void;
}

export interface ReindexProgress extends ReindexedPartition {
  /** The partition's size in pages when the batch began (it grows while ingest goes on). */
  pagesTotal: number;
}

export interface ReindexedPartition {
  partition: string;
  pages: number;
  rowsRewritten: number;
}

export interface ReindexSearchResult {
  partitions: number;
  pages: number;
  rowsRewritten: number;
}

/** The events table's partitions, oldest range first; the default partition last. */
async function eventPartitions(knex: Knex): Promise<string[]> {
  const result = await knex.raw<{ rows: Array<{ name: string }> }>(
    `SELECT c.oid::regclass::text AS name
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'events'::regclass
      ORDER BY pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.relname`,
  );
  return result.rows.map((row) => row.name);
}

/** The partition's size in heap pages now, or null once it is gone. */
async function pageCount(knex: Knex, partition: string): Promise<number | null> {
  const result = await knex.raw<{ rows: Array<{ pages: string | null }> }>(
    "SELECT pg_relation_size(to_regclass(?)) / current_setting('block_size')::bigint AS pages",
    [partition],
  );
  const pages = result.rows[0]?.pages;
  return pages === null || pages === undefined ? null : Number(pages);
}

export async function reindexEventSearch(knex: Knex, options: ReindexSearchOptions = {}): Promise<ReindexSearchResult> {
  const pagesPerBatch = options.pagesPerBatch ?? DEFAULT_REINDEX_PAGES_PER_BATCH;
  if (!Number.isSafeInteger(pagesPerBatch) || pagesPerBatch < 1) {
    throw new RangeError(`pagesPerBatch must be a positive integer, not ${pagesPerBatch}`);
  }
  const filter = options.all ? STALE : `${CHANGED_ROWS} AND ${STALE}`;
  const total: ReindexSearchResult = { partitions: 0, pages: 0, rowsRewritten: 0 };
  for (const partition of await eventPartitions(knex)) {
    const done: ReindexedPartition = { partition, pages: 0, rowsRewritten: 0 };
    // The size is read again each time: rows written meanwhile (ours included) go to the end.
    for (let page = 0; ; page += pagesPerBatch) {
      const pages = await pageCount(knex, partition);
      if (pages === null || page >= pages) break;
      try {
        done.rowsRewritten += await knex.transaction(async (trx) => {
          // The range's pages only, whatever the statistics say (a table never analysed
          // looks empty to the planner, and a sequential scan would read it all each time).
          await trx.raw("SET LOCAL enable_seqscan = off");
          const result = await trx.raw<{ rowCount: number }>(
            `UPDATE ${partition} SET payload = payload
              WHERE ctid >= ?::tid AND ctid < ?::tid AND ${filter}`,
            [`(${page},0)`, `(${page + pagesPerBatch},0)`],
          );
          return result.rowCount;
        });
      } catch (error) {
        // Retention dropped the partition between the size and the update: nothing left to do.
        if ((error as { code?: string }).code === "42P01") break;
        throw error;
      }
      done.pages += Math.min(pagesPerBatch, pages - page);
      options.onBatch?.({ ...done, pagesTotal: pages });
    }
    total.partitions += 1;
    total.pages += done.pages;
    total.rowsRewritten += done.rowsRewritten;
    options.onPartition?.(done);
  }
  return total;
}
