import { join } from "node:path";

import knexFactory, { type Knex } from "knex";
import pg from "pg";

import { defaultPoolSettings, type PoolSettings } from "./config.js";
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from "./embedded.js";

const { types } = pg;

/**
 * int8 (counters, sequences) and numeric (cost) come back from pg as strings by default.
 * Our values stay far below 2^53, so numbers are what callers expect. Scoped to our
 * connections through `types`, not set globally on the pg module.
 */
const INT8_OID: number = types.builtins.INT8;
const NUMERIC_OID: number = types.builtins.NUMERIC;
const typeParsers = {
  getTypeParser(oid: number, format?: "text" | "binary"): (value: string) => unknown {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

/** A Knex instance on PostgreSQL with the pool settings applied. */
export function createKnex(connectionString: string, pool: PoolSettings = defaultPoolSettings): Knex {
  return knexFactory({
    client: "pg",
    connection: {
      connectionString,
      types: typeParsers,
      statement_timeout: pool.statementTimeoutMs,
      application_name: "logbook",
    } as Knex.PgConnectionConfig,
    pool: {
      min: pool.min,
      max: pool.max,
      idleTimeoutMillis: pool.idleTimeoutMs,
      // Recycle connections that were reset by the server (e.g. a restart) instead of failing.
      propagateCreateError: false,
    },
    acquireConnectionTimeout: pool.acquireTimeoutMs,
  });
}

export interface Database {
  knex: Knex;
  /**
   * The pool for reads that may lag a moment behind (a streaming replica, DATABASE_READ_URL);
   * the same pool as `knex` when there is no replica.
   */
  readKnex: Knex;
  /** The replica's URL without its password, when there is one (safe to log). */
  readDisplayUrl?: string;
  /** Where we are connected, without the password (safe to log). */
  displayUrl: string;
  connectionString: string;
  /** Set when Logbook started its own PostgreSQL. */
  embedded?: EmbeddedPostgresHandle;
  /** Closes the pool, then stops the embedded PostgreSQL if we started one. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Use this server (PostgreSQL 14+). Unset: start the embedded one under `home`. */
  databaseUrl?: string | undefined;
  /** A streaming replica of that database for the reads that may lag (`Database.readKnex`). */
  readUrl?: string | undefined;
  /** `LOGBOOK_HOME`; the embedded cluster lives in `<home>/pg`. */
  home: string;
  pool?: PoolSettings;
  /** Name of the database to use on the embedded cluster. @default "logbook" */
  embeddedDatabase?: string;
  onLog?: (line: string) => void;
  /** The embedded launcher's notices (see EmbeddedPostgresOptions.onNotice). */
  onNotice?: (line: string) => void;
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable database URL)";
  }
}

/**
 * Opens one connection of its own (not the pool's, whose acquire waits up to its timeout)
 * and runs `SELECT 1`; rejects when the database cannot answer within `timeoutMs`.
 */
export async function probeDatabase(url: string, timeoutMs = 2_000): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    application_name: "logbook-probe",
  });
  client.on("error", () => undefined); // reported through the failed connect or query
  try {
    await client.connect();
    await client.query({ text: "SELECT 1", query_timeout: timeoutMs } as pg.QueryConfig);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates `name` on the server behind `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
        if (error.code !== "42P04") throw error; // created by a concurrent start
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL and connects to it as
 * Logbook's own role (not the superuser), over its private Unix socket.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  let embedded: EmbeddedPostgresHandle | undefined;
  let connectionString: string;
  if (options.databaseUrl) {
    connectionString = options.databaseUrl;
  } else {
    embedded = await startEmbeddedPostgres({
      dataDir: join(options.home, "pg"),
      ...(options.onLog ? { onLog: options.onLog } : {}),
      ...(options.onNotice ? { onNotice: options.onNotice } : {}),
    });
    try {
      connectionString = await embedded.ensureAppDatabase(options.embeddedDatabase ?? "logbook");
    } catch (error) {
      await embedded.stop();
      throw error;
    }
  }
  const knex = createKnex(connectionString, options.pool);
  const readKnex = options.readUrl ? createKnex(options.readUrl, options.pool) : knex;
  let closed = false;
  return {
    knex,
    readKnex,
    connectionString,
    displayUrl: redactUrl(connectionString),
    ...(options.readUrl ? { readDisplayUrl: redactUrl(options.readUrl) } : {}),
    ...(embedded ? { embedded } : {}),
    async close() {
      if (closed) return;
      closed = true;
      if (readKnex !== knex) await readKnex.destroy();
      await knex.destroy();
      await embedded?.stop();
    },
  };
}
