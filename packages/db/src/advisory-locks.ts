import type { Knex } from "knex";
import pg from "pg";

/**
 * Every PostgreSQL advisory lock Logbook takes, in one place, so two uses can never pick
 * the same key by accident. All live in one namespace ("LOGB"); the key says what for.
 * Several server replicas share one database: these locks are how they agree that one of
 * them at a time migrates, purges or sweeps.
 */
const NAMESPACE = 0x4c4f4742; // "LOGB"

export interface AdvisoryLock {
  namespace: number;
  key: number;
  /** What it guards (logs, pg_locks look-ups in tests). */
  name: string;
}

const lock = (key: number, name: string): AdvisoryLock => ({ namespace: NAMESPACE, key, name });

export const ADVISORY_LOCKS = {
  /** A retention run (scheduled or asked for through the API). */
  retention: lock(1, "retention"),
  /** Creating the first-start key: one process creates it, the others see it. */
  bootstrapKey: lock(2, "bootstrap-key"),
  /** The session inactivity sweep. */
  sessionInactivity: lock(3, "session-inactivity"),
  /** Recovering jobs whose lease expired. */
  jobLeaseRecovery: lock(4, "job-lease-recovery"),
  /**
   * Creating partitions of the events table: taken (waited for, per transaction) inside the
   * SQL function `logbook_ensure_event_partitions`, which spells the two numbers out.
   */
  partitionUpkeep: lock(5, "partition-upkeep"),
  /** Applying migrations: replicas starting together wait for the first one. */
  migrations: lock(6, "migrations"),
  /**
   * Held shared by every transaction that draws an events stream position, until it ends:
   * taken inside the SQL function `logbook_next_stream_seq` (the column's default), which
   * spells the two numbers out; `logbook_stream_horizon` lists its holders.
   */
  streamWriter: lock(7, "stream-writer"),
} as const satisfies Record<string, AdvisoryLock>;

interface ConnectionPool {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

export type Exclusive<T> = { ran: true; value: T } | { ran: false };

/**
 * Runs `task` only if no other session holds `lock` (pg_try_advisory_lock: never waits);
 * else answers `{ ran: false }` at once. The lock is session-level, so it is taken and given
 * back on one pooled connection kept for the whole run; `task` itself uses the pool as
 * usual. If that connection breaks, PostgreSQL drops the lock with it.
 */
export async function tryExclusive<T>(knex: Knex, lock: AdvisoryLock, task: () => Promise<T>): Promise<Exclusive<T>> {
  const pool = knex.client as ConnectionPool;
  const connection = await pool.acquireConnection();
  try {
    const result = await knex
      .raw<{ rows: Array<{ locked: boolean }> }>("SELECT pg_try_advisory_lock(?, ?) AS locked", [
        lock.namespace,
        lock.key,
      ])
      .connection(connection);
    if (result.rows[0]?.locked !== true) return { ran: false };
    try {
      return { ran: true, value: await task() };
    } finally {
      await knex
        .raw("SELECT pg_advisory_unlock(?, ?)", [lock.namespace, lock.key])
        .connection(connection)
        .catch(() => undefined);
    }
  } finally {
    await pool.releaseConnection(connection);
  }
}

/**
 * Runs `task` holding `lock`, waiting for it as long as it takes (pg_advisory_lock), on a
 * connection of its own to `connectionString`: for work every process must see done before
 * it goes on (migrations), where skipping is no option.
 */
export async function whileHolding<T>(
  connectionString: string,
  lock: AdvisoryLock,
  task: () => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString, application_name: `logbook-lock-${lock.name}` });
  // A connection lost while waiting rejects the query below; without a listener the
  // client's 'error' event would end the process instead.
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1, $2)", [lock.namespace, lock.key]);
    try {
      return await task();
    } finally {
      await client.query("SELECT pg_advisory_unlock($1, $2)", [lock.namespace, lock.key]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
