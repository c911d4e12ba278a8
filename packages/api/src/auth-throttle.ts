import type { AuthFailurePolicy, AuthFailureService } from "@logbook/core";

/**
 * Failed authentications per client address: past `limit` failures within `windowMs`, the
 * address gets 429 (with Retry-After) for what remains of the window for every key that
 * does not verify, and those are not counted again. The counts live in PostgreSQL
 * (`AuthFailureService`), so every replica behind a balancer holds the address up, not
 * only the one it failed on (docs/scaling.md).
 *
 * A valid key still passes from a held-up address (see `createContextInner`): every
 * process on one machine shares 127.0.0.1, so a local account sending bad keys would
 * otherwise lock the owner's CLI, dashboard and hooks out for as long as it kept going.
 * Letting a valid key through gives a guesser nothing: a key's secret is 256 random bits,
 * so what the throttle buys is a cap on the noise of failures (log lines, counted rows),
 * not a slower search.
 */
export class AuthThrottle {
  constructor(
    private readonly failures: Pick<AuthFailureService, "retryAfterMs" | "recordFailure">,
    private readonly policy: AuthFailurePolicy,
  ) {}

  /** Milliseconds until `address` may try again; 0 when it may now. */
  retryAfterMs(address: string): Promise<number> {
    return this.failures.retryAfterMs(address, this.policy);
  }

  /** Counts one failure; returns the count in this window and whether the address is now held up. */
  recordFailure(address: string): Promise<{ failures: number; blocked: boolean }> {
    return this.failures.recordFailure(address, this.policy);
  }
}
