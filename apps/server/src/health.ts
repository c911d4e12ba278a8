import type { Health } from "@logbook/contracts";
import { migrationStatus, type Knex } from "@logbook/db";

export interface HealthDeps {
  knex: Knex;
  embedded: boolean;
  version: string;
  startedAt: number;
  now?: () => number;
  /** True while the server knows the database is down: report it without asking the pool (which would wait). */
  databaseDown?: () => boolean;
}

/**
 * Database reachable and every known migration applied: `ok`; anything else: `degraded`
 * (GET /health answers 503 then, so a load balancer takes the replica out).
 */
export function createHealthCheck(deps: HealthDeps): () => Promise<Health> {
  const now = deps.now ?? Date.now;
  return async () => {
    let reachable = false;
    let pending: string[] = [];
    let migrationsCurrent = false;
    try {
      if (deps.databaseDown?.()) throw new Error("the database is down");
      await deps.knex.raw("select 1");
      reachable = true;
      const status = await migrationStatus(deps.knex);
      pending = status.pending;
      migrationsCurrent = status.current;
    } catch {
      // Reported as unreachable / not current below; the cause is the database's business.
    }
    return {
      status: reachable && migrationsCurrent ? "ok" : "degraded",
      version: deps.version,
      database: { reachable, migrationsCurrent, pendingMigrations: pending, embedded: deps.embedded },
      uptimeSeconds: Math.round((now() - deps.startedAt) / 1000),
    };
  };
}
