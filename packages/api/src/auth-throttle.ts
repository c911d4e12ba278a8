/**
 * Failed authentications per client address, so guessing keys costs time: past `limit`
 * failures within `windowMs`, the address gets 429 (with Retry-After) for what remains of
 * the window, without its key being looked at. A fixed window per address, in a Map kept
 * in least-recently-used order and bounded to `maxAddresses`, so a flood from many
 * addresses costs bounded memory (the oldest are forgotten first).
 *
 * The trade-off: every process on one machine shares 127.0.0.1, so a local guesser also
 * holds up local clients for the rest of the window. That is the point of a throttle;
 * set AUTH_FAILURE_LIMIT=0 to turn it off.
 */
export interface AuthThrottleOptions {
  /** Failures allowed per address and window; 0 turns the throttle off. */
  limit: number;
  windowMs: number;
  /** @default 10_000 */
  maxAddresses?: number;
  /** @default Date.now */
  now?: () => number;
}

interface Window {
  startedAt: number;
  failures: number;
}

export class AuthThrottle {
  private readonly windows = new Map<string, Window>();
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(private readonly options: AuthThrottleOptions) {
    this.maxAddresses = options.maxAddresses ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds until `address` may try again; 0 when it may now. */
  retryAfterMs(address: string): number {
    if (this.options.limit === 0) return 0;
    const window = this.current(address);
    if (!window || window.failures < this.options.limit) return 0;
    return window.startedAt + this.options.windowMs - this.now();
  }

  /** Counts one failure; returns the count in this window and whether the address is now held up. */
  recordFailure(address: string): { failures: number; blocked: boolean } {
    if (this.options.limit === 0) return { failures: 0, blocked: false };
    const window = this.current(address) ?? { startedAt: this.now(), failures: 0 };
    window.failures += 1;
    // Re-inserted at the end: the Map's order is least recently used first.
    this.windows.delete(address);
    this.windows.set(address, window);
    const oldest = this.windows.keys().next();
    if (this.windows.size > this.maxAddresses && !oldest.done) this.windows.delete(oldest.value);
    return { failures: window.failures, blocked: window.failures >= this.options.limit };
  }

  /** How many addresses are remembered (for tests: bounded). */
  get size(): number {
    return this.windows.size;
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window && this.now() - window.startedAt >= this.options.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }
}
