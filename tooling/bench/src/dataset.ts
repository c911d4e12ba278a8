import { createHash } from "node:crypto";

import { ensureDatabase, migrateLatest, type Knex } from "@logbook/db";
import pg from "pg";

import { benchKnex, dropDatabase, dropEventIndexes, restoreEventIndexes, type BenchDatabase } from "./database.js";
import {
  connect,
  copyRow,
  copyRows,
  copySessions,
  createProjects,
  LABELS,
  MACHINES,
  planSessions,
  type Dataset,
  type GeneratedSession,
} from "./generate.js";
import { rng } from "./payloads.js";
import { eventsInsertSql, setupTextSql, vocabulary } from "./dataset-sql.js";

/**
 * Bump when the generated data changes shape: a data set of another version is rebuilt.
 * 1: events generated inside PostgreSQL (dataset-sql.ts), Zipf-distributed words.
 */
const DATASET_VERSION = 1;
/** A data set older than this is rebuilt: its times are relative to when it was made ("last 7 days"). */
const MAX_AGE_DAYS = 7;
/** Sessions whose events one INSERT writes (~250k events): progress, and two loads at once. */
const SESSIONS_PER_CHUNK = 2_500;
const META_TABLE = "bench_dataset";

interface DatasetShape {
  events: number;
  sessions: number;
  purgeEvents: number;
}

export interface OpenedDataset {
  name: string;
  url: string;
  knex: Knex;
  data: Dataset;
  /** Events stored (the recent and old parts, and whatever earlier runs' cases added). */
  stored: number;
  oldEvents: number;
  reused: boolean;
  builtAt: string;
  /** Size of the database on disk. */
  bytes: number;
  /** Where the time of this run's preparation went (empty when reused as it was). */
  seconds: Record<string, number>;
}

/**
 * The data set of the read cases (timeline, session list, search, purge, dashboard) in a
 * database of its own, named after its shape, the generator's version and the schema's
 * migrations: `lbds_v<version>_<events>_<sessions>_<purge events>_<hash>`. A run whose
 * shape matches a complete one (built less than MAX_AGE_DAYS ago) reuses it; otherwise it
 * is (re)built. The purge case deletes the old part: the next run makes it again.
 */
export async function openDataset(
  db: BenchDatabase,
  shape: DatasetShape,
  options: { rebuild: boolean; wantOld: boolean; log: (line: string) => void },
): Promise<OpenedDataset> {
  const { log } = options;
  const migrations = await db.knex.raw<{ rows: Array<{ names: string }> }>(
    "SELECT string_agg(name, ',' ORDER BY name) AS names FROM knex_migrations",
  );
  const schemaHash = createHash("sha256")
    .update(migrations.rows[0]?.names ?? "")
    .digest("hex")
    .slice(0, 10);
  const name = `lbds_v${DATASET_VERSION}_${shape.events}_${shape.sessions}_${shape.purgeEvents}_${schemaHash}`;
  const url = db.urlOf(name);
  const existing = options.rebuild ? null : await readMeta(db, name);
  const fresh = existing !== null && Date.now() - Date.parse(existing.built_at) < MAX_AGE_DAYS * 86_400_000;
  const seconds: Record<string, number> = {};
  if (!fresh) {
    if (existing) log(`data set ${name} was built ${existing.built_at}: rebuilding`);
    await dropDatabase(db.adminUrl, name);
    await ensureDatabase(db.adminUrl, name);
  }
  const knex = benchKnex(url);
  try {
    if (!fresh) await build(knex, url, shape, seconds, log);
    else log(`reusing data set ${name} (built ${existing.built_at})`);
    let oldEvents = await countOld(knex);
    if (oldEvents === 0 && options.wantOld && shape.purgeEvents > 0) {
      // An earlier run's purge case removed it: the old part again, into the indexed table.
      const t = performance.now();
      await generatePart(knex, url, { ...shape, sessions: oldSessions(shape), events: shape.purgeEvents }, 400, log);
      await knex.raw("ANALYZE events");
      seconds.oldPart = (performance.now() - t) / 1000;
      oldEvents = await countOld(knex);
    }
    const data = await readDataset(knex);
    const count = await knex.raw<{ rows: Array<{ n: string; bytes: string }> }>(
      "SELECT (SELECT count(*) FROM events) AS n, pg_database_size(current_database()) AS bytes",
    );
    const meta = await readMeta(db, name);
    return {
      name,
      url,
      knex,
      data,
      stored: Number(count.rows[0]?.n ?? 0),
      oldEvents,
      reused: fresh,
      builtAt: meta?.built_at ?? "?",
      bytes: Number(count.rows[0]?.bytes ?? 0),
      seconds,
    };
  } catch (error) {
    await knex.destroy();
    throw error;
  }
}

const oldSessions = (shape: DatasetShape) => Math.max(10, Math.round(shape.purgeEvents / 100));

/** Where the partition purge case's data lies: sessions 200 days old, in weekly ranges 240 to 190 days back. */
const PARTITION_DATA_AGE_DAYS = 200;
const PARTITION_RANGE_DAYS = { from: 240, to: 190 };

/**
 * The partition purge case's data: weekly time partitions (epoch-aligned, as the upkeep
 * makes them) over PARTITION_RANGE_DAYS, holding `purgeEvents` events of sessions
 * PARTITION_DATA_AGE_DAYS old, as a server that has run that long has them. Made when those
 * ranges hold fewer than `purgeEvents` (the case drops them; the next run makes them again;
 * a purge that stopped part-way leaves some, dropped first). Returns the events they hold.
 */
export async function ensurePartitionData(
  ds: OpenedDataset,
  purgeEvents: number,
  log: (line: string) => void,
): Promise<number> {
  const { from, to } = PARTITION_RANGE_DAYS;
  const ranges = () =>
    ds.knex.raw<{ rows: Array<{ name: string }> }>(
      `SELECT name FROM logbook_event_partitions()
        WHERE lower_bound >= to_timestamp(floor(extract(epoch FROM now() - make_interval(days => ?)) / 604800) * 604800)
          AND lower_bound <= now() - make_interval(days => ?)`,
      [from, to],
    );
  const count = async () =>
    Number(
      (
        await ds.knex.raw<{ rows: Array<{ n: string }> }>(
          `SELECT count(*) AS n FROM events
            WHERE occurred_at >= now() - make_interval(days => ?) AND occurred_at < now() - make_interval(days => ?)`,
          [from + 7, to],
        )
      ).rows[0]?.n ?? 0,
    );
  const held = await count();
  if (held >= purgeEvents) return held;
  if (held > 0) {
    // An earlier run's purge stopped part-way: its leftover would make this run purge less. Start again.
    log(`the partition ranges hold ${held} events, not ${purgeEvents}: dropping them`);
    for (const { name } of (await ranges()).rows) {
      await ds.knex.raw("ALTER TABLE events DETACH PARTITION ??", [name]);
      await ds.knex.raw("DROP TABLE ??", [name]);
    }
  }
  await ds.knex.raw(
    `SELECT logbook_create_event_partition(lo, lo + interval '7 days')
       FROM generate_series(
         to_timestamp(floor(extract(epoch FROM now() - make_interval(days => ?)) / 604800) * 604800),
         now() - make_interval(days => ?),
         interval '7 days') AS lo
      WHERE NOT EXISTS (SELECT 1 FROM logbook_event_partitions() p WHERE p.lower_bound = lo)`,
    [from, to],
  );
  const shape = { events: purgeEvents, sessions: 0, purgeEvents };
  log(`generating ${purgeEvents} events ${PARTITION_DATA_AGE_DAYS} days old into weekly partitions`);
  await generatePart(ds.knex, ds.url, { ...shape, sessions: oldSessions(shape) }, PARTITION_DATA_AGE_DAYS, log);
  await ds.knex.raw("VACUUM (ANALYZE) events");
  return count();
}

async function build(
  knex: Knex,
  url: string,
  shape: DatasetShape,
  seconds: Record<string, number>,
  log: (line: string) => void,
): Promise<void> {
  let t = performance.now();
  await migrateLatest(knex);
  // Weekly partitions over the recent part's month, as a server running that long has them
  // (the migration made them from today on); older events go to the default partition.
  await knex.raw(`
    DO $$
    DECLARE first timestamptz := (SELECT min(lower_bound) FROM logbook_event_partitions());
    BEGIN
      WHILE first > now() - interval '32 days' LOOP
        PERFORM logbook_create_event_partition(first - interval '7 days', first);
        first := first - interval '7 days';
      END LOOP;
    END $$`);
  const saved = await dropEventIndexes(knex);
  log(`building data set: ${shape.events} events / ${shape.sessions} sessions + ${shape.purgeEvents} old events`);
  await generatePart(knex, url, shape, 0, log);
  if (shape.purgeEvents > 0)
    await generatePart(knex, url, { ...shape, sessions: oldSessions(shape), events: shape.purgeEvents }, 400, log);
  seconds.load = (performance.now() - t) / 1000;
  t = performance.now();
  log(`  loaded in ${seconds.load.toFixed(1)} s; rebuilding ${saved.indexes.length} indexes`);
  await restoreEventIndexes(knex, saved, log);
  seconds.indexes = (performance.now() - t) / 1000;
  t = performance.now();
  await knex.raw("VACUUM (ANALYZE) events");
  await knex.raw("VACUUM (ANALYZE) sessions");
  seconds.vacuum = (performance.now() - t) / 1000;
  await knex.raw(
    `CREATE TABLE ${META_TABLE} AS SELECT ?::int AS version, now()::text AS built_at, ?::jsonb AS seconds`,
    [DATASET_VERSION, JSON.stringify(seconds)],
  );
  log(`  indexes ${seconds.indexes.toFixed(1)} s, vacuum ${seconds.vacuum.toFixed(1)} s`);
}

/**
 * One part of the data set: projects (first part only), planned session trees written with
 * COPY, then their events made inside PostgreSQL, SESSIONS_PER_CHUNK sessions per INSERT,
 * two INSERTs at a time (one per core).
 */
async function generatePart(
  knex: Knex,
  url: string,
  shape: DatasetShape,
  ageDays: number,
  log: (line: string) => void,
): Promise<void> {
  const client = await connect(url);
  const seed = ageDays === 0 ? 1 : 2 + Math.floor(Date.now() / 1000);
  const random = rng(seed);
  try {
    const existing = await client.query<{ id: string }>("SELECT id FROM projects ORDER BY path");
    const projects = existing.rows.length > 0 ? existing.rows.map((r) => r.id) : await createProjects(client, 200, 1);
    const sessions = planSessions(random, { sessions: shape.sessions, events: shape.events, ageDays, projects });
    await copySessions(client, random, sessions);
    await client.query(setupTextSql(vocabulary(), seed));
    await client.query(`DROP TABLE IF EXISTS bench_plan;
      CREATE UNLOGGED TABLE bench_plan (sidx int PRIMARY KEY, session_id uuid, n int, start_at timestamptz,
        agent_id text, agent_type text, root_external text, cwd text, machine_id text)`);
    await copyRows(
      client,
      "bench_plan",
      ["sidx", "session_id", "n", "start_at", "agent_id", "agent_type", "root_external", "cwd", "machine_id"],
      sessions.map((s, i) => planRow(s, i)),
    );
    await client.query("ANALYZE bench_plan");
  } finally {
    await client.end();
  }
  const chunks: Array<[number, number]> = [];
  // At least two chunks, so a small data set keeps both loaders busy too.
  const perChunk = Math.max(1, Math.min(SESSIONS_PER_CHUNK, Math.ceil(shape.sessions / 2)));
  for (let from = 0; from < shape.sessions; from += perChunk) chunks.push([from, from + perChunk]);
  const words = vocabulary().length;
  const started = performance.now();
  let done = 0;
  let written = 0;
  const worker = async () => {
    const loader = await connect(url);
    try {
      // A crash loses the data set, not a committed event of the product: no need to wait for each flush.
      await loader.query("SET synchronous_commit = off");
      for (let chunk = chunks.shift(); chunk !== undefined; chunk = chunks.shift()) {
        const result = await loader.query(eventsInsertSql(words), chunk);
        written += result.rowCount ?? 0;
        done++;
        if (done % 8 === 0 || chunks.length === 0) {
          const rate = written / ((performance.now() - started) / 1000);
          log(`  ${written} / ${shape.events} events (${Math.round(rate)}/s)`);
        }
      }
    } finally {
      await loader.end();
    }
  };
  await Promise.all([worker(), worker()]);
  await knex.raw("DROP TABLE bench_plan, bench_text, bench_vocab, bench_word");
  if (written !== shape.events) throw new Error(`data set: ${written} events written, ${shape.events} planned`);
  log(`  ${written} events in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

function planRow(s: GeneratedSession, index: number): string {
  const [root, agent] = s.externalId.split(":agent:");
  return copyRow([
    index,
    s.id,
    s.events,
    new Date(s.startMs).toISOString(),
    agent ?? null,
    s.agentType,
    root ?? s.externalId,
    `/work/repo-${s.projectId.slice(0, 4)}`,
    s.machineId,
  ]);
}

async function countOld(knex: Knex): Promise<number> {
  const result = await knex.raw<{ rows: Array<{ n: string | null }> }>(
    "SELECT sum(last_event_seq) AS n FROM sessions WHERE started_at < now() - interval '300 days'",
  );
  return Number(result.rows[0]?.n ?? 0);
}

/** What the cases need to know of the stored sessions, read back from the data set. */
async function readDataset(knex: Knex): Promise<Dataset> {
  const rows = await knex.raw<{
    rows: Array<{
      id: string;
      external_id: string;
      parent_session_id: string | null;
      events: string;
      status: string;
      machine_id: string;
      project_id: string;
      agent_type: string | null;
      started_at: Date;
    }>;
  }>(
    `SELECT id, external_id, parent_session_id, last_event_seq AS events, status, machine_id, project_id,
            agent_type, started_at
       FROM sessions WHERE started_at >= now() - interval '300 days' AND project_id IS NOT NULL ORDER BY id`,
  );
  const projects = await knex.raw<{ rows: Array<{ id: string }> }>("SELECT id FROM projects ORDER BY path");
  const sessions: GeneratedSession[] = rows.rows.map((r) => ({
    id: r.id,
    externalId: r.external_id,
    parentId: r.parent_session_id,
    events: Number(r.events),
    status: r.status,
    machineId: r.machine_id,
    projectId: r.project_id,
    agentType: r.agent_type,
    startMs: r.started_at.getTime(),
  }));
  const events = sessions.reduce((n, s) => n + s.events, 0);
  return { sessions, events, machines: MACHINES, projects: projects.rows.map((r) => r.id), labels: LABELS };
}

async function readMeta(db: BenchDatabase, name: string): Promise<{ built_at: string } | null> {
  const admin = new pg.Client({ connectionString: db.adminUrl });
  await admin.connect();
  try {
    const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) return null;
  } finally {
    await admin.end();
  }
  const client = new pg.Client({ connectionString: db.urlOf(name) });
  await client.connect();
  try {
    const table = await client.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [META_TABLE]);
    if (table.rows[0]?.t === null) return null; // a build that did not finish
    const meta = await client.query<{ built_at: string; version: number }>(`SELECT * FROM ${META_TABLE}`);
    const row = meta.rows[0];
    return row && row.version === DATASET_VERSION ? { built_at: row.built_at } : null;
  } finally {
    await client.end();
  }
}
