import { describe, expect, it } from "vitest";

import { GroupCommit } from "./group-commit.js";

/** The mechanism alone; hooks/hook-service.test.ts runs it against PostgreSQL. */
describe("GroupCommit", () => {
  it("sends a lone item at once, and gathers the items that arrive meanwhile into one batch", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const group = new GroupCommit<number, number>({
      maxInFlight: 1,
      commit: async (items) => {
        batches.push(items);
        if (batches.length === 1) await gate;
        return items.map((i) => i * 10);
      },
    });
    const first = group.submit(1);
    const rest = [2, 3, 4].map((i) => group.submit(i));
    expect(batches).toEqual([[1]]); // the first went straight out; the others wait for it
    release();
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it("fails only the item that sinks a batch, by committing each alone after a failure", async () => {
    const group = new GroupCommit<number, number>({
      maxInFlight: 1,
      commit: async (items) => {
        if (items.includes(13)) throw new Error("unlucky");
        return items;
      },
    });
    const results = await Promise.allSettled([1, 13, 2, 3].map((i) => group.submit(i)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
  });

  it("fails the whole batch at once for a failure retryAlone says is not about its items", async () => {
    const calls: number[][] = [];
    const busy = new Error("the database is busy");
    const group = new GroupCommit<number, number>({
      maxInFlight: 1,
      retryAlone: (error) => error !== busy,
      commit: async (items) => {
        calls.push(items);
        if (items.includes(13)) throw new Error("unlucky");
        if (items.includes(99)) throw busy;
        return items;
      },
    });
    const busyBatch = await Promise.allSettled([1, 99, 2].map((i) => group.submit(i)));
    expect(busyBatch.map((r): unknown => (r.status === "rejected" ? (r.reason as unknown) : r.value))).toEqual([
      1,
      busy,
      busy,
    ]);
    expect(calls).toEqual([[1], [99, 2]]); // the first went alone; the second batch was not split
    calls.length = 0;
    const unlucky = await Promise.allSettled([1, 13, 2].map((i) => group.submit(i)));
    expect(unlucky.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(calls).toEqual([[1], [13, 2], [13], [2]]); // any other failure: each item alone
  });

  it("keeps at most maxInFlight batches going and caps their size", async () => {
    let active = 0;
    let peak = 0;
    const sizes: number[] = [];
    const group = new GroupCommit<number, number>({
      maxInFlight: 2,
      maxBatch: 3,
      commit: async (items) => {
        active++;
        peak = Math.max(peak, active);
        sizes.push(items.length);
        await new Promise((r) => setImmediate(r));
        active--;
        return items;
      },
    });
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => group.submit(i)));
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
  });
});
