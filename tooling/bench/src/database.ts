import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createKnex, ensureDatabase, migrateLatest, startEmbeddedPostgres, type Knex } from "@logbook/db";
import pg from "pg";

export interface BenchDatabase {
  /** Connection string of the fresh, migrated database of this run. */
  url: string;
  knex: Knex;
  /** Where PostgreSQL came from, for the report. */
  origin: "embedded" | "DATABASE_URL";
  serverVersion: string;
  /** The connection string of another database on the same server. */
  urlOf(database: string): string;
  /** The server's maintenance connection (create and drop databases). */
  adminUrl: string;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * A PostgreSQL for the run: `DATABASE_URL`'s server, or an embedded one, in `clusterDir`
 * when given (kept, so the data set database there is reused by later runs; see
 * dataset.ts) or else in a temporary directory (removed at the end). Either way a new
 * database, migrated, so a run's own cases never see another run's rows; with `keep` it is
 * left behind for inspection.
 */
export async function openBenchDatabase(options: {
  databaseUrl: string | undefined;
  clusterDir: string | null;
  keep: boolean;
  log: (line: string) => void;
}): Promise<BenchDatabase> {
  let adminUrl: string;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let tempDir: string | undefined;
  if (options.databaseUrl) {
    adminUrl = options.databaseUrl;
  } else {
    let dir = options.clusterDir;
    if (dir === null) {
      tempDir = await mkdtemp(join(tmpdir(), "logbook-bench-"));
      dir = tempDir;
    } else {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
    options.log(`starting embedded PostgreSQL in ${dir}`);
    const embedded = await startEmbeddedPostgres({ dataDir: join(dir, "pg") });
    adminUrl = embedded.connectionString;
    stopEmbedded = () => embedded.stop();
  }
  const name = `logbook_bench_${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${process.pid}`;
  await ensureDatabase(adminUrl, name);
  const url = withDatabase(adminUrl, name);
  const knex = benchKnex(url);
  await migrateLatest(knex);
  const version = await knex.raw<{ rows: Array<{ server_version: string }> }>("SHOW server_version");
  if (!options.databaseUrl) {
    // Bulk loads of millions of rows: fewer checkpoints. Reloadable settings only (no restart).
    await knex.raw("ALTER SYSTEM SET max_wal_size = '8GB'");
    await knex.raw("SELECT pg_reload_conf()");
  }
  return {
    url,
    knex,
    origin: options.databaseUrl ? "DATABASE_URL" : "embedded",
    serverVersion: version.rows[0]?.server_version ?? "?",
    urlOf: (database) => withDatabase(adminUrl, database),
    adminUrl,
    async close() {
      await knex.destroy();
      if (!options.keep) {
        await dropDatabase(adminUrl, name);
      } else {
        options.log(`kept database ${redact(url)}`);
      }
      await stopEmbedded?.();
      if (tempDir && !options.keep) await rm(tempDir, { recursive: true, force: true });
    },
  };
}

/** A pool for the harness on a bench database. */
export function benchKnex(url: string): Knex {
  // No statement timeout: index builds over millions of rows take longer than the product's default.
  return createKnex(url, {
    min: 0,
    max: 8,
    acquireTimeoutMs: 60_000,
    idleTimeoutMs: 30_000,
    statementTimeoutMs: 3_600_000,
  });
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

export interface SavedDefinitions {
  indexes: string[];
  constraints: Array<{ name: string; definition: string }>;
}

/**
 * Drops the events table's secondary indexes and its foreign key before a bulk load
 * (each costs far more per row than building it once afterwards) and returns their
 * definitions, read from the catalog, so `restoreEventIndexes` puts back exactly the schema.
 */
export async function dropEventIndexes(knex: Knex): Promise<SavedDefinitions> {
  const indexes = await knex.raw<{ rows: Array<{ name: string; definition: string }> }>(
    `SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = 'events'::regclass AND NOT x.indisprimary AND NOT x.indisunique`,
  );
  const constraints = await knex.raw<{ rows: Array<{ name: string; definition: string }> }>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS definition
       FROM pg_constraint WHERE conrelid = 'events'::regclass AND contype = 'f'`,
  );
  for (const c of constraints.rows) await knex.raw(`ALTER TABLE events DROP CONSTRAINT ${pg.escapeIdentifier(c.name)}`);
  for (const i of indexes.rows) await knex.raw(`DROP INDEX ${pg.escapeIdentifier(i.name)}`);
  // events is partitioned: its indexes read "ON ONLY public.events", which re-created as they
  // are would make an index of the parent alone (invalid, none on the partitions).
  return { indexes: indexes.rows.map((r) => r.definition.replace(/ ON ONLY /, " ON ")), constraints: constraints.rows };
}

/** Rebuilds what `dropEventIndexes` dropped, two builds at a time (one per core), then ANALYZE. */
export async function restoreEventIndexes(
  knex: Knex,
  saved: SavedDefinitions,
  log: (line: string) => void,
): Promise<void> {
  const queue = [...saved.indexes];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const started = performance.now();
      await knex.transaction(async (trx) => {
        await trx.raw("SET LOCAL maintenance_work_mem = '512MB'");
        await trx.raw("SET LOCAL max_parallel_maintenance_workers = 0");
        await trx.raw(next);
      });
      log(
        `  ${next.replace(/^CREATE (UNIQUE )?INDEX (\S+) .*$/, "$2")} ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  };
  await Promise.all([worker(), worker()]);
  for (const c of saved.constraints) {
    await knex.raw(`ALTER TABLE events ADD CONSTRAINT ${pg.escapeIdentifier(c.name)} ${c.definition}`);
  }
  await knex.raw("ANALYZE");
}
