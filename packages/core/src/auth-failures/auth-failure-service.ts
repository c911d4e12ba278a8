import type { CoreDeps } from "../deps.js";

/** Failures allowed per address and window; limit 0 turns the throttle off. */
export interface AuthFailurePolicy {
  limit: number;
  windowMs: number;
}

/** Windows that ended, deleted by each recorded failure: the table stays about one window's addresses. */
const SWEEP_PER_FAILURE = 100;

/**
 * Failed authentications per client address, kept in PostgreSQL (`auth_failures`) so that
 * every server replica counts the same failures: past `limit` failures within `windowMs`
 * the address is held up, on whichever replica it tries next, for what remains of its
 * window (a fixed window per address). Times are the database's clock, one clock for all
 * replicas. One statement per call, no transaction held.
 */
export class AuthFailureService {
  constructor(private readonly deps: CoreDeps) {}

  /** Milliseconds until `address` may try again; 0 when it may now. */
  async retryAfterMs(address: string, policy: AuthFailurePolicy): Promise<number> {
    if (policy.limit === 0) return 0;
    const result = await this.deps.knex.raw<{ rows: Array<{ wait_ms: string }> }>(
      `SELECT ceil(extract(epoch FROM window_started_at + ?::interval - clock_timestamp()) * 1000)::bigint AS wait_ms
         FROM auth_failures
        WHERE address = ? AND failures >= ?`,
      [windowOf(policy), address, policy.limit],
    );
    return Math.max(0, Number(result.rows[0]?.wait_ms ?? 0));
  }

  /**
   * Counts one failure of `address` (starting a new window when its last one ended);
   * returns the count in this window and whether the address is now held up. Sweeps a few
   * ended windows of other addresses on the way.
   */
  async recordFailure(address: string, policy: AuthFailurePolicy): Promise<{ failures: number; blocked: boolean }> {
    if (policy.limit === 0) return { failures: 0, blocked: false };
    const window = windowOf(policy);
    const result = await this.deps.knex.raw<{ rows: Array<{ failures: number }> }>(
      `WITH swept AS (
         DELETE FROM auth_failures WHERE address IN (
           SELECT address FROM auth_failures
            WHERE window_started_at <= clock_timestamp() - ?::interval AND address <> ?
            LIMIT ?)
       )
       INSERT INTO auth_failures AS f (address, window_started_at, failures)
       VALUES (?, clock_timestamp(), 1)
       ON CONFLICT (address) DO UPDATE SET
         window_started_at = CASE WHEN f.window_started_at <= clock_timestamp() - ?::interval
                                  THEN clock_timestamp() ELSE f.window_started_at END,
         failures = CASE WHEN f.window_started_at <= clock_timestamp() - ?::interval
                         THEN 1 ELSE f.failures + 1 END
       RETURNING failures`,
      [window, address, SWEEP_PER_FAILURE, address, window, window],
    );
    const failures = Number(result.rows[0]?.failures ?? 1);
    return { failures, blocked: failures >= policy.limit };
  }
}

function windowOf(policy: AuthFailurePolicy): string {
  return `${Math.round(policy.windowMs)} milliseconds`;
}
