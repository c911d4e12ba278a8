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

/** How long retention waits for the lock a detach needs before it leaves the partition for the next run. */
const DETACH_LOCK_TIMEOUT = "1s";

/**
 * The time partitions of `events` (migration 20261201162404): creating them ahead of time
 * and retiring whole old ones. The SQL functions the migration installed do the creating,
 * so the migration and the upkeep job share one implementation.
 */
export class PartitionService {
  private readonly knex: Knex;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
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
   * Detaches every range that ends at or before `cutoff`, then drops it, or keeps it as the
   * plain table `events_archive_<range>` (`archive`: restore with `ALTER TABLE events ATTACH
   * PARTITION … FOR VALUES FROM (…) TO (…)`, docs/scaling.md). One short transaction per
   * partition; a detach that cannot get its lock within a second (a long query on
   * events) is left for the next run.
   */
  async retireOlderThan(cutoff: Date, mode: RetiredPartitionMode): Promise<RetiredPartitions> {
    const retired: RetiredPartitions = { partitions: [], events: 0 };
    for (const partition of await this.list()) {
      if (partition.to.getTime() > cutoff.getTime()) break;
      const events = await this.knex
        .transaction(async (trx) => {
          await trx.raw(`SET LOCAL lock_timeout = '${DETACH_LOCK_TIMEOUT}'`);
          const table = trx.raw("??", [partition.name]);
          const counted = await trx.raw<{ rows: Array<{ n: number }> }>("SELECT count(*)::int AS n FROM ?", [table]);
          await trx.raw("ALTER TABLE events DETACH PARTITION ?", [table]);
          if (mode === "drop") await trx.raw("DROP TABLE ?", [table]);
          else
            await trx.raw("ALTER TABLE ? RENAME TO ??", [table, partition.name.replace(/^events_/, "events_archive_")]);
          return counted.rows[0]?.n ?? 0;
        })
        .catch((error: { code?: string }) => {
          if (error.code === "55P03") return null; // lock_not_available: next run
          throw error;
        });
      if (events === null) break;
      retired.partitions.push(partition.name);
      retired.events += events;
    }
    return retired;
  }
}
