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
  /** How long a probe's answer is reused. @default 250 */
  maxAgeMs?: number;
  /** A probe not answered by then counts as the database unreachable. @default 750 */
  probeTimeoutMs?: number;
}

interface Probe {
  at: number;
  reachable: boolean;
  migrationsCurrent: boolean;
  pending: string[];
}

/**
 * Database reachable and every known migration applied: `ok`; anything else: `degraded`
 * (GET /health answers 503 then, so a load balancer takes the replica out).
 *
 * Answers from a cached probe (`select 1` and the migration list: two round trips, ~5 ms
 * under load); concurrent callers share one probe. A probe up to `maxAgeMs` old is the
 * answer; one older, up to `maxAgeMs` + `probeTimeoutMs`, is still the answer while a new
 * probe runs in the background, so no request waits for the database (a caller waited
 * once every `maxAgeMs`: at 200 requests/s that was the p99, docs/performance.md). Only
 * an older probe (an idle server) is waited for. A dead database still shows within a
 * second: at once when the server already knows (`databaseDown`), else after at most
 * `maxAgeMs` + `probeTimeoutMs` (a probe that hangs on an unanswering server counts as
 * unreachable, and no second probe is queued behind it).
 */
export function createHealthCheck(deps: HealthDeps): () => Promise<Health> {
  const now = deps.now ?? Date.now;
  const maxAgeMs = deps.maxAgeMs ?? 250;
  const probeTimeoutMs = deps.probeTimeoutMs ?? 750;
  let cached: Probe | null = null;
  let probing: Promise<Probe> | null = null;
  /** Bumped when the server reports the database down: a probe begun before is not kept. */
  let generation = 0;
  /** The probe's database work, while it has not settled (it may outlive the timeout). */
  let hanging: Promise<unknown> | null = null;

  const unreachable = (): Probe => ({ at: now(), reachable: false, migrationsCurrent: false, pending: [] });

  const probe = async (): Promise<Probe> => {
    if (hanging) return unreachable();
    const work = (async () => {
      await deps.knex.raw("select 1");
      return migrationStatus(deps.knex);
    })();
    hanging = work.finally(() => (hanging = null)).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), probeTimeoutMs)));
    try {
      const status = await Promise.race([work, timeout]);
      if (status === null) return unreachable();
      return { at: now(), reachable: true, migrationsCurrent: status.current, pending: status.pending };
    } catch {
      // Reported as unreachable; the cause is the database's business.
      return unreachable();
    } finally {
      clearTimeout(timer);
    }
  };

  /** The running probe, else a new one; its result becomes the cached one. */
  const refresh = (): Promise<Probe> => {
    if (probing) return probing;
    const started = generation;
    const running = probe().then((result) => {
      if (generation === started) cached = result;
      return result;
    });
    probing = running.finally(() => (probing = null));
    return probing;
  };

  return async () => {
    let state: Probe;
    const age = cached === null ? Infinity : now() - cached.at;
    if (deps.databaseDown?.()) {
      state = unreachable();
      cached = null; // back up: probe afresh, never answer from before the outage
      generation++;
    } else if (cached !== null && age <= maxAgeMs) {
      state = cached;
    } else if (cached !== null && age <= maxAgeMs + probeTimeoutMs) {
      void refresh();
      state = cached;
    } else {
      state = await refresh();
    }
    return {
      status: state.reachable && state.migrationsCurrent ? "ok" : "degraded",
      version: deps.version,
      database: {
        reachable: state.reachable,
        migrationsCurrent: state.migrationsCurrent,
        pendingMigrations: state.pending,
        embedded: deps.embedded,
      },
      uptimeSeconds: Math.round((now() - deps.startedAt) / 1000),
    };
  };
}
