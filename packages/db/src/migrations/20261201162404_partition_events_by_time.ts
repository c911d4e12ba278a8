import type { Knex } from "knex";

/**
 * `events` becomes a table partitioned by range of `occurred_at` (docs/scaling.md, step 4):
 * retention by age then detaches and drops whole partitions instead of deleting rows
 * (a 1M-row delete wrote ~1.1 GB of WAL and slowed ingest 4.5×).
 *
 * - Ranges are `range_days` long, aligned to the Unix epoch in UTC, named
 *   `events_pYYYYMMDD` after their first day. The migration makes 7-day ranges from the
 *   oldest event (at most two years back) to four ranges ahead; the server's upkeep job
 *   (EVENTS_PARTITION_DAYS, EVENTS_PARTITIONS_AHEAD) keeps creating them ahead of time,
 *   each new one starting where the last one ends.
 * - `events_default` takes what no range holds: events dated before the first range or
 *   beyond the last (clients send their own times; the importer dates undated lines at the
 *   epoch). Creating a range moves its rows out of the default partition first.
 * - The table is converted in place: a new partitioned `events` is made LIKE the old one
 *   (so columns other migrations added come along), the rows are copied, the old table is
 *   dropped, and its keys, references and indexes are re-created under their own names from
 *   their definitions (read from the catalog, not restated here). `stream_seq` keeps its
 *   sequence. Every unique key already contains `occurred_at` (distribution.test.ts).
 * - Runs in the migration's transaction: the table is locked while it converts. Time per
 *   million rows: docs/scaling.md.
 */

/** Functions the upkeep job and retention call: one implementation, in the database. */
const FUNCTIONS = `
CREATE FUNCTION logbook_event_partitions()
RETURNS TABLE (name text, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE AS $fn$
  SELECT c.relname::text,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = 'events'::regclass
     AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
   ORDER BY 2
$fn$;

CREATE FUNCTION logbook_create_event_partition(lower_bound timestamptz, upper_bound timestamptz)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  partition_name text := 'events_p' || to_char(lower_bound AT TIME ZONE 'UTC', 'YYYYMMDD');
  cols text;
BEGIN
  -- Generated columns are computed again on the way back in.
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute
   WHERE attrelid = 'events'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
  -- A range the default partition holds rows of cannot be created: move them out, then back.
  EXECUTE format(
    'CREATE TEMP TABLE logbook_moving ON COMMIT DROP AS SELECT %s FROM events_default WHERE occurred_at >= %L AND occurred_at < %L',
    cols, lower_bound, upper_bound);
  EXECUTE format('DELETE FROM events_default WHERE occurred_at >= %L AND occurred_at < %L', lower_bound, upper_bound);
  EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)', partition_name, lower_bound, upper_bound);
  EXECUTE format('INSERT INTO events (%s) SELECT %s FROM logbook_moving', cols, cols);
  DROP TABLE logbook_moving;
  RETURN partition_name;
END
$fn$;

CREATE FUNCTION logbook_ensure_event_partitions(range_days int, ahead int, at timestamptz DEFAULT now(), start_from timestamptz DEFAULT NULL)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  range_seconds bigint := range_days::bigint * 86400;
  lower_bound timestamptz;
  target timestamptz := at + make_interval(days => range_days * ahead);
  created int := 0;
BEGIN
  IF range_days < 1 OR ahead < 1 THEN
    RAISE EXCEPTION 'range_days and ahead must be at least 1 (got %, %)', range_days, ahead;
  END IF;
  -- Serialises concurrent callers (two replicas' upkeep, a migration) within this transaction.
  PERFORM pg_advisory_xact_lock(1280264002, 5); -- ADVISORY_LOCKS.partitionUpkeep
  SELECT max(p.upper_bound) INTO lower_bound FROM logbook_event_partitions() p;
  IF lower_bound IS NULL THEN
    lower_bound := to_timestamp(floor(extract(epoch FROM coalesce(start_from, at)) / range_seconds) * range_seconds);
  END IF;
  WHILE lower_bound < target LOOP
    PERFORM logbook_create_event_partition(lower_bound, lower_bound + make_interval(days => range_days));
    lower_bound := lower_bound + make_interval(days => range_days);
    created := created + 1;
  END LOOP;
  RETURN created;
END
$fn$;
`;

const DROP_FUNCTIONS = `
DROP FUNCTION IF EXISTS logbook_ensure_event_partitions(int, int, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS logbook_create_event_partition(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS logbook_event_partitions();
`;

interface Definitions {
  /** `ALTER TABLE events ADD CONSTRAINT name <def>` for keys and references. */
  constraints: Array<{ name: string; def: string }>;
  /** `CREATE INDEX …` statements of the indexes that back no constraint. */
  indexes: string[];
}

/** The keys, references and plain indexes of `table`, as statements for a table named `events`. */
async function definitionsOf(knex: Knex, table: string): Promise<Definitions> {
  const constraints = await knex.raw<{ rows: Array<{ name: string; def: string }> }>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = ?::regclass AND contype IN ('p', 'u', 'f') AND conparentid = 0
      ORDER BY contype DESC, conname`,
    [table],
  );
  const indexes = await knex.raw<{ rows: Array<{ def: string }> }>(
    `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
      WHERE i.indrelid = ?::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
      ORDER BY 1`,
    [table],
  );
  return {
    constraints: constraints.rows,
    // A partitioned table's index reads "ON ONLY public.events"; a plain table's "ON public.events".
    indexes: indexes.rows.map((r) => r.def.replace(/ ON ONLY /, " ON ")),
  };
}

async function restore(knex: Knex, definitions: Definitions): Promise<void> {
  for (const { name, def } of definitions.constraints) {
    await knex.raw(`ALTER TABLE events ADD CONSTRAINT ${quoteIdent(name)} ${def}`);
  }
  for (const statement of definitions.indexes) await knex.raw(statement);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The columns rows are copied by: all but generated ones (computed again on insert). */
async function copyColumns(knex: Knex, table: string): Promise<string> {
  const result = await knex.raw<{ rows: Array<{ cols: string }> }>(
    `SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS cols FROM pg_attribute
      WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''`,
    [table],
  );
  const cols = result.rows[0]?.cols;
  if (!cols) throw new Error(`no columns found on ${table}`);
  return cols;
}

/** Moves `stream_seq`'s sequence to the new table, so dropping the old one keeps it. */
async function keepSequence(knex: Knex, from: string): Promise<void> {
  const result = await knex.raw<{ rows: Array<{ seq: string | null }> }>(
    "SELECT pg_get_serial_sequence(?, 'stream_seq') AS seq",
    [from],
  );
  const sequence = result.rows[0]?.seq;
  if (sequence) await knex.raw(`ALTER SEQUENCE ${sequence} OWNED BY events.stream_seq`);
}

const LIKE_OPTIONS =
  "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS";

export async function up(knex: Knex): Promise<void> {
  const definitions = await definitionsOf(knex, "events");
  await knex.raw("ALTER TABLE events RENAME TO events_unpartitioned");
  await knex.raw(`CREATE TABLE events (LIKE events_unpartitioned ${LIKE_OPTIONS}) PARTITION BY RANGE (occurred_at)`);
  await knex.raw("CREATE TABLE events_default PARTITION OF events DEFAULT");
  await knex.raw(FUNCTIONS);
  // Ranges from the oldest event (at most two years back: older ones wait in the default
  // partition for row retention) to four weeks ahead.
  await knex.raw(
    `SELECT logbook_ensure_event_partitions(7, 4, now(),
       greatest(now() - interval '730 days',
         coalesce((SELECT min(occurred_at) FROM events_unpartitioned WHERE occurred_at > 'epoch'::timestamptz), now())))`,
  );
  const cols = await copyColumns(knex, "events_unpartitioned");
  await knex.raw(`INSERT INTO events (${cols}) SELECT ${cols} FROM events_unpartitioned`);
  await keepSequence(knex, "events_unpartitioned");
  await knex.raw("DROP TABLE events_unpartitioned");
  await restore(knex, definitions);
  await knex.raw("ANALYZE events");
}

export async function down(knex: Knex): Promise<void> {
  const definitions = await definitionsOf(knex, "events");
  await knex.raw("ALTER TABLE events RENAME TO events_partitioned");
  await knex.raw(`CREATE TABLE events (LIKE events_partitioned ${LIKE_OPTIONS})`);
  // Archived (detached) partitions are not part of the table and stay as they are.
  const cols = await copyColumns(knex, "events_partitioned");
  await knex.raw(`INSERT INTO events (${cols}) SELECT ${cols} FROM events_partitioned`);
  await keepSequence(knex, "events_partitioned");
  await knex.raw("DROP TABLE events_partitioned CASCADE");
  await knex.raw(DROP_FUNCTIONS);
  await restore(knex, definitions);
  await knex.raw("ANALYZE events");
}
