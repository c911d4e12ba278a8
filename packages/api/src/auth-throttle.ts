import type { AuthFailurePolicy, AuthFailureService } from "@logbook/core";

/**
 * Failed authentications per client address, so guessing keys costs time: past `limit`
 * failures within `windowMs`, the address gets 429 (with Retry-After) for what remains of
 * the window, without its key being looked at. The counts live in PostgreSQL
 * (`AuthFailureService`), so every replica behind a balancer holds the address up, not
 * only the one it failed on (docs/scaling.md). A key this process verified a moment ago
 * (its cached verification) is no guess and is not held up (see `createContextInner`).
 *
 * The trade-off: every process on one machine shares 127.0.0.1, so a local guesser also
 * holds up local clients whose key is not cached for the rest of the window. That is the
 * point of a throttle; set AUTH_FAILURE_LIMIT=0 to turn it off.
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
