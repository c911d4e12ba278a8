import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { ADVISORY_LOCKS, tryExclusive, whileHolding } from "./advisory-locks.js";
import { createKnex } from "./connection.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

/** A promise with its resolve handle: lets a test hold a task open until it says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("advisory locks", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.destroy());

  it("have distinct keys", () => {
    const keys = Object.values(ADVISORY_LOCKS).map((l) => `${l.namespace}/${l.key}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("tryExclusive: a second process skips while the first runs, and runs once it is done", async () => {
    // Another replica: its own pool on the same database.
    const other = createKnex(db.url);
    try {
      const held = gate();
      const started = gate();
      const first = tryExclusive(db.knex, ADVISORY_LOCKS.sessionInactivity, async () => {
        started.open();
        await held.promise;
        return "first";
      });
      await started.promise;
      expect(await tryExclusive(other, ADVISORY_LOCKS.sessionInactivity, () => Promise.resolve("second"))).toEqual({
        ran: false,
      });
      // Another job's lock is free meanwhile.
      expect(await tryExclusive(other, ADVISORY_LOCKS.jobLeaseRecovery, () => Promise.resolve(1))).toEqual({
        ran: true,
        value: 1,
      });
      held.open();
      expect(await first).toEqual({ ran: true, value: "first" });
      expect(await tryExclusive(other, ADVISORY_LOCKS.sessionInactivity, () => Promise.resolve("second"))).toEqual({
        ran: true,
        value: "second",
      });
    } finally {
      await other.destroy();
    }
  });

  it("tryExclusive gives the lock back when the task fails", async () => {
    await expect(
      tryExclusive(db.knex, ADVISORY_LOCKS.jobLeaseRecovery, () => Promise.reject(new Error("boom"))),
    ).rejects.toThrow("boom");
    const held = await db.knex("pg_locks").where({
      locktype: "advisory",
      classid: ADVISORY_LOCKS.jobLeaseRecovery.namespace,
      objid: ADVISORY_LOCKS.jobLeaseRecovery.key,
    });
    expect(held).toEqual([]);
  });

  it("whileHolding: a second holder waits for the first, never runs beside it", async () => {
    const order: string[] = [];
    const held = gate();
    const started = gate();
    const first = whileHolding(db.url, ADVISORY_LOCKS.migrations, async () => {
      order.push("first:start");
      started.open();
      await held.promise;
      order.push("first:end");
    });
    await started.promise;
    const second = whileHolding(db.url, ADVISORY_LOCKS.migrations, () => {
      order.push("second");
      return Promise.resolve();
    });
    // The second is queued in PostgreSQL behind the first: wait until pg_locks shows it waiting.
    await waitFor(
      "the second holder waiting in pg_locks",
      async () =>
        (
          await db.knex("pg_locks").where({
            locktype: "advisory",
            classid: ADVISORY_LOCKS.migrations.namespace,
            objid: ADVISORY_LOCKS.migrations.key,
            granted: false,
          })
        ).length,
      { deadlineMs: 30_000, everyMs: 20, accept: (n) => n > 0 },
    );
    expect(order).toEqual(["first:start"]);
    held.open();
    await Promise.all([first, second]);
    expect(order).toEqual(["first:start", "first:end", "second"]);
  });
});
