import { describe, expect, it } from "vitest";

import { AuthThrottle } from "./auth-throttle.js";

describe("AuthThrottle", () => {
  it("holds an address up once it reaches the limit, until its window ends", () => {
    let now = 1_000_000;
    const throttle = new AuthThrottle({ limit: 3, windowMs: 60_000, now: () => now });
    expect(throttle.recordFailure("a")).toEqual({ failures: 1, blocked: false });
    expect(throttle.recordFailure("a")).toEqual({ failures: 2, blocked: false });
    expect(throttle.retryAfterMs("a")).toBe(0);
    expect(throttle.recordFailure("a")).toEqual({ failures: 3, blocked: true });
    now += 10_000;
    expect(throttle.retryAfterMs("a")).toBe(50_000);
    expect(throttle.retryAfterMs("b")).toBe(0);
    now += 50_000;
    expect(throttle.retryAfterMs("a")).toBe(0);
    expect(throttle.recordFailure("a")).toEqual({ failures: 1, blocked: false });
  });

  it("remembers at most maxAddresses, forgetting the least recently failed first", () => {
    const throttle = new AuthThrottle({ limit: 2, windowMs: 60_000, maxAddresses: 100 });
    throttle.recordFailure("kept");
    for (let i = 0; i < 1_000; i++) {
      throttle.recordFailure(`flood-${i}`);
      if (i % 50 === 0) throttle.recordFailure("kept");
    }
    expect(throttle.size).toBe(100);
    expect(throttle.retryAfterMs("kept")).toBeGreaterThan(0);
  });

  it("does nothing with limit 0", () => {
    const throttle = new AuthThrottle({ limit: 0, windowMs: 60_000 });
    for (let i = 0; i < 100; i++) throttle.recordFailure("a");
    expect(throttle.retryAfterMs("a")).toBe(0);
    expect(throttle.size).toBe(0);
  });
});
