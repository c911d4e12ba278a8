import type { Knex } from "knex";

/**
 * Live resume positions that never skip a slow writer (docs/scaling.md, "Resume positions").
 *
 * `events.stream_seq` comes from a sequence, so two transactions can commit out of sequence
 * order: T1 takes 100, T2 takes 101, T2 commits first. A reader that hands out 101 at that
 * moment lets a subscriber resume after 101 and never see 100. Readers therefore hand out
 * only positions up to a horizon below which no writer is still in flight, and these two
 * functions make that horizon knowable:
 *
 * - `logbook_next_stream_seq()`, the column's default, takes a shared transaction-level
 *   advisory lock (namespace "LOGB", key 7: ADVISORY_LOCKS.streamWriter) before it draws the
 *   position. Shared locks never wait on each other, so writers do not serialise; the lock
 *   is held until the writer's transaction ends, and PostgreSQL releases it only after the
 *   commit is visible. A row inserted with an explicit `stream_seq` (a partition moving its
 *   rows) draws nothing and takes nothing.
 * - `logbook_stream_horizon()` reads the sequence's last value first and the lock's holders
 *   second. Any transaction that drew a position up to that value took the lock before
 *   drawing it, so it is either over (its rows visible to any later snapshot, or rolled back)
 *   or among the holders. Once every one of those holders is gone, every position up to the
 *   value is final. The live bus (packages/core/src/live) builds its horizon on this.
 */
const STREAM_WRITER_LOCK = "1280264002, 7"; // ADVISORY_LOCKS.streamWriter

async function sequenceOf(knex: Knex): Promise<string> {
  const result = await knex.raw<{ rows: Array<{ seq: string | null }> }>(
    "SELECT pg_get_serial_sequence('events', 'stream_seq') AS seq",
  );
  const sequence = result.rows[0]?.seq;
  if (!sequence) throw new Error("events.stream_seq has no sequence");
  return sequence;
}

export async function up(knex: Knex): Promise<void> {
  const sequence = await sequenceOf(knex);
  await knex.raw(`
    CREATE FUNCTION logbook_next_stream_seq() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
    BEGIN
      PERFORM pg_advisory_xact_lock_shared(${STREAM_WRITER_LOCK});
      RETURN nextval('${sequence}'::regclass);
    END
    $fn$;

    CREATE FUNCTION logbook_stream_horizon(OUT last_seq bigint, OUT writers text[])
    LANGUAGE plpgsql VOLATILE AS $fn$
    BEGIN
      -- First the last position drawn, then who may still hold one: this order is the proof.
      last_seq := coalesce(pg_sequence_last_value('${sequence}'::regclass), 0);
      SELECT coalesce(array_agg(l.virtualtransaction), '{}') INTO writers
        FROM pg_locks l
       WHERE l.locktype = 'advisory'
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND l.classid = 1280264002 AND l.objid = 7 AND l.objsubid = 2;
    END
    $fn$;

    ALTER TABLE events ALTER COLUMN stream_seq SET DEFAULT logbook_next_stream_seq();
  `);
}

export async function down(knex: Knex): Promise<void> {
  const sequence = await sequenceOf(knex);
  await knex.raw(`
    ALTER TABLE events ALTER COLUMN stream_seq SET DEFAULT nextval('${sequence}'::regclass);
    DROP FUNCTION logbook_stream_horizon();
    DROP FUNCTION logbook_next_stream_seq();
  `);
}
