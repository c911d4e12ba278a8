import type { Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";

export interface EventPartition {
  name: string;
  from: Date;
  to: Date;
}

/** What retention does with an events partition wholly older than its cutoff. */
export type RetiredPartitionMode = "drop" | "archive";

export interface RetiredPartitions {
  /** The partitions detached (and dropped, or kept as `events_archive_…`). */
  partitions: string[];
  /** The events they held. */
  events: number;
}

/**
 * How long one detach waits for its lock on `events`. A detach needs ACCESS EXCLUSIVE on
 * `events` (see `retireOlderThan`), and while it waits every insert into `events` queues
 * behind it: this bounds what a waiting detach adds to an ingest's latency.
 */
const DETACH_LOCK_TIMEOUT_MS = 50;
/** Tries per batch of ranges before leaving them for the next run (a long query on events holds them off). */
export const DETACH_ATTEMPTS = 20;
/** Pause between tries, so that the inserts that queued behind the last try go first. */
const DETACH_RETRY_PAUSE_MS = 200;
/** Ranges detached in one transaction: one wait for the lock instead of one per range, each hold short. */
const DETACH_BATCH = 8;
/**
 * The comment a range gets in the transaction that detaches it, with the mode: a detached
 * table carrying it is retention's, waiting for its drop (or archive). A run that stopped
 * between the two steps (a crash, a restart) leaves such tables; the next run finishes them.
 */
const RETIRING = "logbook: retired events range, to ";

/**
 * The time partitions of `events` (migration 20261201162404): creating them ahead of time
 * and retiring whole old ones. The SQL functions the migration installed do the creating,
 * so the migration and the upkeep job share one implementation.
 */
export class PartitionService {
  private readonly knex: Knex;
  private readonly pause: () => Promise<void>;

  constructor(
    deps: CoreDeps,
    options: {
      /** Waited between two tries of a detach that could not get its lock. @default DETACH_RETRY_PAUSE_MS */
      pause?: () => Promise<void>;
    } = {},
  ) {
    this.knex = deps.knex;
    this.pause = options.pause ?? (() => new Promise((resolve) => setTimeout(resolve, DETACH_RETRY_PAUSE_MS)));
  }

  /** The ranges, oldest first (the default partition is not one). */
  async list(): Promise<EventPartition[]> {
    const result = await this.knex.raw<{ rows: Array<{ name: string; lower_bound: Date; upper_bound: Date }> }>(
      "SELECT name, lower_bound, upper_bound FROM logbook_event_partitions()",
    );
    return result.rows.map((r) => ({ name: r.name, from: r.lower_bound, to: r.upper_bound }));
  }

  /**
   * Makes sure ranges of `rangeDays` exist up to `ahead` ranges past `now`, each starting where
   * the last one ends; rows of a new range waiting in the default partition move into it.
   * Returns how many it created. Safe from several replicas at once (the function locks).
   */
  async ensureAhead(input: { rangeDays: number; ahead: number; now?: Date }): Promise<number> {
    const result = await this.knex.raw<{ rows: Array<{ created: number }> }>(
      "SELECT logbook_ensure_event_partitions(?, ?, ?) AS created",
      [input.rangeDays, input.ahead, input.now ?? new Date()],
    );
    return result.rows[0]?.created ?? 0;
  }

  /**
   * Retires every range that ends at or before `cutoff`: detaches it from `events`, then drops
   * it, or keeps it as the plain table `events_archive_<range>` (`archive`: restore with
   * `ALTER TABLE events ATTACH PARTITION … FOR VALUES FROM (…) TO (…)`, docs/scaling.md).
   * Tables a stopped run detached and did not finish are finished first.
   *
   * Why two steps: a detach takes ACCESS EXCLUSIVE on `events`, and inserts wait for it.
   * `DETACH … CONCURRENTLY` would not, but PostgreSQL refuses it while `events` has a
   * default partition (ours holds the stragglers). So the detach is made as short as it can
   * be: up to DETACH_BATCH ranges in one transaction that does nothing else (no count, no
   * drop: the lock on `events` is held for catalog changes only), waiting at most
   * DETACH_LOCK_TIMEOUT_MS for its lock, tried again after a pause while inserts hold it off.
   * Counting and dropping the detached tables then lock nothing the ingest uses.
   */
  async retireOlderThan(cutoff: Date, mode: RetiredPartitionMode): Promise<RetiredPartitions> {
    const retired = await this.finishRetired();
    const due: string[] = [];
    for (const partition of await this.list()) {
      if (partition.to.getTime() > cutoff.getTime()) break;
      due.push(partition.name);
    }
    for (let i = 0; i < due.length; i += DETACH_BATCH) {
      const batch = due.slice(i, i + DETACH_BATCH);
      if (!(await this.detach(batch, mode))) break; // held off: the next run tries again
      const finished = await this.finishRetired();
      retired.partitions.push(...finished.partitions);
      retired.events += finished.events;
    }
    return retired;
  }

  /**
   * Step 1: detaches `names` from `events` in one short transaction, marking each as
   * retention's (with `mode`) in that same transaction, so a detached table is always
   * marked. Returns false when it could not get its lock in DETACH_ATTEMPTS tries.
   */
  async detach(names: string[], mode: RetiredPartitionMode): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const done = await this.knex
        .transaction(async (trx) => {
          await trx.raw(`SET LOCAL lock_timeout = ${DETACH_LOCK_TIMEOUT_MS}`);
          for (const name of names) {
            await trx.raw("ALTER TABLE events DETACH PARTITION ??", [name]);
            // COMMENT takes no bound parameters; the mode is one of two fixed words.
            await trx.raw(`COMMENT ON TABLE ?? IS '${RETIRING}${mode}'`, [name]);
          }
          return true;
        })
        .catch((error: { code?: string }) => {
          if (error.code === "55P03") return false; // lock_not_available
          throw error;
        });
      if (done) return true;
      if (attempt >= DETACH_ATTEMPTS) return false;
      await this.pause();
    }
  }

  /**
   * Step 2: every detached table marked as retention's is counted, then dropped or renamed
   * to `events_archive_…` as its mark says, each in its own transaction. No lock on
   * `events`: these tables are no longer part of it.
   */
  async finishRetired(): Promise<RetiredPartitions> {
    const retired: RetiredPartitions = { partitions: [], events: 0 };
    const marked = await this.knex.raw<{ rows: Array<{ name: string; note: string }> }>(
      `SELECT c.relname AS name, d.description AS note
         FROM pg_class c JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
        WHERE c.relkind = 'r' AND NOT c.relispartition AND pg_table_is_visible(c.oid) AND d.description LIKE ?
        ORDER BY c.relname`,
      [`${RETIRING}%`],
    );
    for (const { name, note } of marked.rows) {
      const mode: RetiredPartitionMode = note.endsWith("archive") ? "archive" : "drop";
      const events = await this.knex.transaction(async (trx) => {
        const table = trx.raw("??", [name]);
        const counted = await trx.raw<{ rows: Array<{ n: number }> }>("SELECT count(*)::int AS n FROM ?", [table]);
        if (mode === "drop") await trx.raw("DROP TABLE ?", [table]);
        else {
          await trx.raw("COMMENT ON TABLE ? IS NULL", [table]);
          await trx.raw("ALTER TABLE ? RENAME TO ??", [table, name.replace(/^events_/, "events_archive_")]);
        }
        return counted.rows[0]?.n ?? 0;
      });
      retired.partitions.push(name);
      retired.events += events;
    }
    return retired;
  }
}
