import { createKnex } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AuthFailureService } from "./auth-failure-service.js";

describe("AuthFailureService", () => {
  let db: TestDatabase;
  let failures: AuthFailureService;
  beforeAll(async () => {
    db = await createTestDatabase();
    failures = new AuthFailureService({ knex: db.knex });
  });
  afterAll(() => db.destroy());

  const policy = { limit: 3, windowMs: 60_000 };
  /** Moves an address's window back in time, as if `ms` had passed. */
  const age = (address: string, ms: number) =>
    db.knex.raw("UPDATE auth_failures SET window_started_at = window_started_at - ?::interval WHERE address = ?", [
      `${ms} milliseconds`,
      address,
    ]);

  it("holds an address up once it reaches the limit, until its window ends", async () => {
    expect(await failures.recordFailure("a", policy)).toEqual({ failures: 1, blocked: false });
    expect(await failures.recordFailure("a", policy)).toEqual({ failures: 2, blocked: false });
    expect(await failures.retryAfterMs("a", policy)).toBe(0);
    expect(await failures.recordFailure("a", policy)).toEqual({ failures: 3, blocked: true });
    const wait = await failures.retryAfterMs("a", policy);
    expect(wait).toBeGreaterThan(50_000);
    expect(wait).toBeLessThanOrEqual(60_000);
    expect(await failures.retryAfterMs("b", policy)).toBe(0);

    await age("a", 50_000);
    const left = await failures.retryAfterMs("a", policy);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(10_000);
    await age("a", 10_000);
    expect(await failures.retryAfterMs("a", policy)).toBe(0);
    // The window ended: counting starts again.
    expect(await failures.recordFailure("a", policy)).toEqual({ failures: 1, blocked: false });
  });

  it("counts the failures seen by every replica (two pools on one database) together", async () => {
    const otherKnex = createKnex(db.url);
    try {
      const replica = new AuthFailureService({ knex: otherKnex });
      await failures.recordFailure("shared", policy);
      await replica.recordFailure("shared", policy);
      expect(await failures.retryAfterMs("shared", policy)).toBe(0);
      expect(await replica.recordFailure("shared", policy)).toEqual({ failures: 3, blocked: true });
      expect(await failures.retryAfterMs("shared", policy)).toBeGreaterThan(0);
      // Failures racing on both at once are all counted.
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? failures : replica).recordFailure("racing", policy)),
      );
      const row = await db.knex("auth_failures").where({ address: "racing" }).first<{ failures: number }>();
      expect(row?.failures).toBe(10);
    } finally {
      await otherKnex.destroy();
    }
  });

  it("sweeps ended windows of other addresses as failures come in", async () => {
    for (let i = 0; i < 5; i++) await failures.recordFailure(`old-${i}`, policy);
    for (let i = 0; i < 5; i++) await age(`old-${i}`, 60_000);
    await failures.recordFailure("new", policy);
    const left = await db.knex("auth_failures").where("address", "like", "old-%").count<Array<{ n: string }>>({
      n: "*",
    });
    expect(Number(left[0]?.n)).toBe(0);
  });

  it("does nothing with limit 0", async () => {
    const off = { limit: 0, windowMs: 60_000 };
    for (let i = 0; i < 10; i++)
      expect(await failures.recordFailure("off", off)).toEqual({ failures: 0, blocked: false });
    expect(await failures.retryAfterMs("off", off)).toBe(0);
    expect(await db.knex("auth_failures").where({ address: "off" }).first()).toBeUndefined();
  });
});
