import { claimJobsInput, enqueueJobInput, extendJobLeaseInput, failJobInput, listJobsInput } from "@logbook/contracts";
import type { Job } from "@logbook/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";

import { rejection } from "../test-helpers.js";
import { JobService, jobBackoffMs } from "./job-service.js";

let db: TestDatabase;
let jobs: JobService;
beforeAll(async () => {
  db = await createTestDatabase();
  jobs = new JobService({ knex: db.knex });
});
afterAll(() => db.destroy());
// Every test starts from an empty queue: claims see only the jobs the test made.
beforeEach(async () => {
  await db.knex("jobs").delete();
});

/** Expires leases without sleeping: the database clock decides, so move the lease into its past. */
async function expireLeases(ids: string[]): Promise<void> {
  await db
    .knex("jobs")
    .whereIn("id", ids)
    .update({ lease_expires_at: db.knex.raw("now() - interval '1 second'") });
}

/** Makes retried jobs due now instead of after their backoff. */
async function makeDue(id: string): Promise<void> {
  await db
    .knex("jobs")
    .where({ id })
    .update({ scheduled_at: db.knex.raw("now() - interval '1 millisecond'") });
}

async function backoffOf(id: string): Promise<number> {
  const row = await db
    .knex("jobs")
    .where({ id })
    .first<{ ms: string }>(db.knex.raw("extract(epoch from (scheduled_at - updated_at)) * 1000 AS ms"));
  return Number(row.ms);
}

interface Tally {
  completions: Map<string, number>;
  claims: Map<string, number>;
}

/** A worker loop: claims until the queue is empty, completes everything it claims. */
async function worker(id: string, tally: Tally, options: { dieAfterClaims?: number } = {}): Promise<string[]> {
  const abandoned: string[] = [];
  let claimsMade = 0;
  for (;;) {
    const claimed = await jobs.claim({ workerId: id, limit: 3, leaseMs: 60_000 });
    if (claimed.length === 0) return abandoned;
    claimsMade += 1;
    for (const job of claimed) tally.claims.set(job.id, (tally.claims.get(job.id) ?? 0) + 1);
    if (options.dieAfterClaims !== undefined && claimsMade >= options.dieAfterClaims) {
      abandoned.push(...claimed.map((j) => j.id));
      return abandoned; // "dies": never completes what it holds
    }
    for (const job of claimed) {
      await jobs.complete({ id: job.id, workerId: id, result: { by: id } });
      tally.completions.set(job.id, (tally.completions.get(job.id) ?? 0) + 1);
    }
  }
}

async function enqueueMany(count: number, type = "work"): Promise<Job[]> {
  const out: Job[] = [];
  for (let i = 0; i < count; i += 8) {
    out.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(8, count - i) }, (_, k) =>
          jobs.enqueue(enqueueJobInput.parse({ type, data: { n: i + k } })),
        ),
      )),
    );
  }
  return out;
}

describe("JobService concurrency", () => {
  it("4 concurrent workers complete each of 200 jobs exactly once", async () => {
    const enqueued = await enqueueMany(200);
    const tally: Tally = { completions: new Map(), claims: new Map() };
    await Promise.all(["w1", "w2", "w3", "w4"].map((w) => worker(w, tally)));

    expect(tally.completions.size).toBe(200);
    for (const job of enqueued) {
      expect(tally.completions.get(job.id), job.id).toBe(1);
      expect(tally.claims.get(job.id), job.id).toBe(1);
    }
    const rows = await db.knex("jobs").select("status", "attempts").groupBy("status", "attempts").count({ n: "*" });
    expect(rows).toEqual([{ status: "completed", attempts: 1, n: 200 }]);
  });

  it("a worker that dies mid-job: after its lease expires another completes the job, exactly once", async () => {
    const enqueued = await enqueueMany(60);
    const tally: Tally = { completions: new Map(), claims: new Map() };
    const [abandoned] = await Promise.all([
      worker("dies", tally, { dieAfterClaims: 2 }),
      worker("w1", tally),
      worker("w2", tally),
      worker("w3", tally),
    ]);
    expect(abandoned.length).toBeGreaterThan(0);
    // Still leased to the dead worker: nobody else can take them yet.
    expect(await jobs.claim(claimJobsInput.parse({ workerId: "w1", limit: 100 }))).toEqual([]);

    await expireLeases(abandoned);
    expect(await jobs.recoverExpiredLeases()).toEqual({ recovered: abandoned.length, failed: 0 });
    const recovered = await jobs.get({ id: expectDefined(abandoned[0]) });
    expect(recovered).toMatchObject({ status: "pending", leaseOwner: null, attempts: 1 });
    expect(recovered.error).toContain('the lease of worker "dies" expired');

    await Promise.all([worker("w1", tally), worker("w2", tally)]);
    for (const job of enqueued) expect(tally.completions.get(job.id), job.id).toBe(1);
    for (const id of abandoned) expect(tally.claims.get(id)).toBe(2);

    // The dead worker comes back and reports: refused, the job stays completed once.
    const late = await rejection(jobs.complete({ id: expectDefined(abandoned[0]), workerId: "dies" }));
    expect(late.code).toBe("CONFLICT");
    expect(late.message).toContain("is completed, not running");
    const job = await jobs.get({ id: expectDefined(abandoned[0]) });
    expect(job).toMatchObject({ status: "completed", attempts: 2 });
    expect(job.leaseOwner).not.toBe("dies");
  });

  it("a dead worker's late report is refused while the job is leased to another", async () => {
    const [job] = await enqueueMany(1);
    await jobs.claim(claimJobsInput.parse({ workerId: "dead", leaseMs: 1000 }));
    await expireLeases([expectDefined(job).id]);
    await jobs.recoverExpiredLeases();
    const [again] = await jobs.claim(claimJobsInput.parse({ workerId: "alive" }));
    expect(again).toMatchObject({ id: expectDefined(job).id, attempts: 2, leaseOwner: "alive" });

    for (const report of [
      () => jobs.complete({ id: expectDefined(job).id, workerId: "dead" }),
      () => jobs.fail(failJobInput.parse({ id: expectDefined(job).id, workerId: "dead", error: "late" })),
      () => jobs.extendLease(extendJobLeaseInput.parse({ id: expectDefined(job).id, workerId: "dead" })),
    ]) {
      const error = await rejection(report());
      expect(error.code).toBe("CONFLICT");
      expect(error.message).toContain('leased to worker "alive", not "dead"');
    }
    expect((await jobs.complete({ id: expectDefined(job).id, workerId: "alive", result: [1, "two"] })).result).toEqual([
      1,
      "two",
    ]);
  });
});

describe("JobService retries", () => {
  it("fails with exponential backoff until max attempts, then for good", async () => {
    const job = await jobs.enqueue(enqueueJobInput.parse({ type: "flaky", maxAttempts: 3 }));
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const [claimed] = await jobs.claim(claimJobsInput.parse({ workerId: "w" }));
      expect(claimed).toMatchObject({ id: job.id, attempts: attempt, status: "running" });
      const failed = await jobs.fail(failJobInput.parse({ id: job.id, workerId: "w", error: `boom ${attempt}` }));
      expect(failed.error).toBe(`boom ${attempt}`);
      if (attempt < 3) {
        expect(failed).toMatchObject({ status: "pending", leaseOwner: null, leaseExpiresAt: null, completedAt: null });
        delays.push(await backoffOf(job.id));
        // Not due before its backoff has passed.
        expect(await jobs.claim(claimJobsInput.parse({ workerId: "w" }))).toEqual([]);
        await makeDue(job.id);
      } else {
        expect(failed).toMatchObject({ status: "failed", attempts: 3 });
        expect(failed.completedAt).not.toBeNull();
      }
    }
    expect(delays).toEqual([1000, 2000]);
    expect(await jobs.claim(claimJobsInput.parse({ workerId: "w" }))).toEqual([]);
  });

  it("caps the backoff", async () => {
    const capped = new JobService({ knex: db.knex }, { backoffBaseMs: 1000, backoffMaxMs: 3000 });
    const job = await capped.enqueue(enqueueJobInput.parse({ type: "flaky", maxAttempts: 5 }));
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await capped.claim(claimJobsInput.parse({ workerId: "w" }));
      await capped.fail(failJobInput.parse({ id: job.id, workerId: "w", error: "boom" }));
      delays.push(await backoffOf(job.id));
      await makeDue(job.id);
    }
    expect(delays).toEqual([1000, 2000, 3000, 3000]);
    expect([1, 2, 3, 4, 30].map((a) => jobBackoffMs(a))).toEqual([1000, 2000, 4000, 8000, 3_600_000]);
  });

  it("waits the delay the worker gives instead of its own backoff", async () => {
    const job = await jobs.enqueue(enqueueJobInput.parse({ type: "jittered", maxAttempts: 5 }));
    await jobs.claim(claimJobsInput.parse({ workerId: "w" }));
    await jobs.fail(failJobInput.parse({ id: job.id, workerId: "w", error: "boom" }), { retryInMs: 4321 });
    expect(await backoffOf(job.id)).toBe(4321);
  });

  it("a permanent failure skips the remaining attempts", async () => {
    const job = await jobs.enqueue(enqueueJobInput.parse({ type: "doomed", maxAttempts: 5 }));
    await jobs.claim(claimJobsInput.parse({ workerId: "w" }));
    const failed = await jobs.fail({ id: job.id, workerId: "w", error: "bad data", permanent: true });
    expect(failed).toMatchObject({ status: "failed", attempts: 1, error: "bad data", leaseOwner: "w" });
  });

  it("recovering an expired lease on the last attempt fails the job", async () => {
    const last = await jobs.enqueue(enqueueJobInput.parse({ type: "once", maxAttempts: 1 }));
    const retry = await jobs.enqueue(enqueueJobInput.parse({ type: "twice", maxAttempts: 2 }));
    await jobs.claim(claimJobsInput.parse({ workerId: "w", limit: 2 }));
    await expireLeases([last.id, retry.id]);
    expect(await jobs.recoverExpiredLeases()).toEqual({ recovered: 1, failed: 1 });
    expect((await jobs.get({ id: last.id })).status).toBe("failed");
    expect((await jobs.get({ id: retry.id })).status).toBe("pending");
    expect(await jobs.recoverExpiredLeases()).toEqual({ recovered: 0, failed: 0 });
  });

  it("recovers in batches", async () => {
    const small = new JobService({ knex: db.knex }, { recoverBatchSize: 2 });
    const many = await enqueueMany(5);
    await jobs.claim(claimJobsInput.parse({ workerId: "w", limit: 5 }));
    await expireLeases(many.map((j) => j.id));
    expect(await small.recoverExpiredLeases()).toEqual({ recovered: 5, failed: 0 });
  });
});

describe("JobService ordering and lifecycle", () => {
  it("claims by priority, then by due time; future jobs wait; types filter", async () => {
    const later = await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: 0, runAt: "2020-01-01T00:00:02Z" }));
    const low = await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: -5 }));
    const earlier = await jobs.enqueue(
      enqueueJobInput.parse({ type: "t", priority: 0, runAt: "2020-01-01T00:00:01Z" }),
    );
    const high = await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: 10 }));
    await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: 1000, runAt: "2999-01-01T00:00:00Z" }));
    const other = await jobs.enqueue(enqueueJobInput.parse({ type: "other", priority: 999 }));

    const claimed = await jobs.claim(claimJobsInput.parse({ workerId: "w", types: ["t"], limit: 10 }));
    expect(claimed.map((j) => j.id)).toEqual([high.id, earlier.id, later.id, low.id]);
    expect((await jobs.claim(claimJobsInput.parse({ workerId: "w", limit: 10 }))).map((j) => j.id)).toEqual([other.id]);
  });

  it("claims one at a time in priority order", async () => {
    const a = await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: 1 }));
    const b = await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: 3 }));
    const c = await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: 2 }));
    const order: string[] = [];
    for (let i = 0; i < 3; i += 1)
      order.push(expectDefined((await jobs.claim(claimJobsInput.parse({ workerId: "w" })))[0]).id);
    expect(order).toEqual([b.id, c.id, a.id]);
  });

  it("sets the lease from the database clock and extends it for its owner", async () => {
    await jobs.enqueue(enqueueJobInput.parse({ type: "t" }));
    const [job] = await jobs.claim(claimJobsInput.parse({ workerId: "w", leaseMs: 5000 }));
    expect(
      Date.parse(expectDefined(expectDefined(job).leaseExpiresAt)) -
        Date.parse(expectDefined(expectDefined(job).startedAt)),
    ).toBe(5000);
    const extended = await jobs.extendLease({ id: expectDefined(job).id, workerId: "w", leaseMs: 600_000 });
    expect(Date.parse(expectDefined(extended.leaseExpiresAt))).toBeGreaterThan(
      Date.parse(expectDefined(expectDefined(job).leaseExpiresAt)),
    );
  });

  it("only the lease owner completes; a pending job cannot be completed", async () => {
    const job = await jobs.enqueue(enqueueJobInput.parse({ type: "t" }));
    const pending = await rejection(jobs.complete({ id: job.id, workerId: "w" }));
    expect(pending).toMatchObject({ code: "CONFLICT" });
    expect(pending.message).toContain("is pending, not running");
    await jobs.claim(claimJobsInput.parse({ workerId: "w" }));
    const stranger = await rejection(jobs.complete({ id: job.id, workerId: "x" }));
    expect(stranger.message).toContain('leased to worker "w", not "x"');
    expect(await jobs.complete({ id: job.id, workerId: "w" })).toMatchObject({ status: "completed", result: null });
  });

  it("cancels pending and running jobs, not finished ones", async () => {
    const pending = await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: -1 }));
    const running = await jobs.enqueue(enqueueJobInput.parse({ type: "t", priority: 1 }));
    await jobs.claim(claimJobsInput.parse({ workerId: "w" }));
    expect((await jobs.cancel({ id: pending.id })).status).toBe("cancelled");
    const cancelled = await jobs.cancel({ id: running.id });
    expect(cancelled).toMatchObject({ status: "cancelled", leaseExpiresAt: null });
    expect(await jobs.cancel({ id: running.id })).toEqual(cancelled);

    const refused = await rejection(jobs.complete({ id: running.id, workerId: "w" }));
    expect(refused.message).toContain("is cancelled, not running");

    const done = await jobs.enqueue(enqueueJobInput.parse({ type: "t" }));
    await jobs.claim(claimJobsInput.parse({ workerId: "w" }));
    await jobs.complete({ id: done.id, workerId: "w" });
    const error = await rejection(jobs.cancel({ id: done.id }));
    expect(error).toMatchObject({ code: "INVALID_TRANSITION", details: { from: "completed", to: "cancelled" } });
    expect(error.message).toContain("cannot go from completed to cancelled");
  });

  it("lists newest first with keyset pages and filters", async () => {
    const made = await enqueueMany(7, "listed");
    await jobs.enqueue(enqueueJobInput.parse({ type: "unlisted" }));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await jobs.list({ type: "listed", limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const expected = await db
      .knex("jobs")
      .where({ type: "listed" })
      .orderBy([
        { column: "created_at", order: "desc" },
        { column: "id", order: "desc" },
      ])
      .pluck("id");
    expect(seen).toEqual(expected);
    expect(new Set(seen)).toEqual(new Set(made.map((j) => j.id)));

    await jobs.claim(claimJobsInput.parse({ workerId: "w", types: ["unlisted"] }));
    expect((await jobs.list(listJobsInput.parse({ status: ["running"] }))).items.map((j) => j.type)).toEqual([
      "unlisted",
    ]);
    expect((await jobs.list({ status: ["pending"], limit: 500 })).items).toHaveLength(7);
  });

  it("pages jobs created in the same millisecond correctly", async () => {
    // Microseconds apart: a millisecond cursor would repeat or skip them.
    await db.knex.raw(`
      INSERT INTO jobs (type, created_at) SELECT 'tick', timestamptz '2026-01-01T00:00:00.000100Z' + g * interval '1 microsecond'
      FROM generate_series(1, 5) g`);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await jobs.list({ type: "tick", limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });
});

describe("JobService input errors", () => {
  // Input the contract refuses never reaches the service: the jobs router's tests cover it.
  it("names what is wrong", async () => {
    const session = await rejection(
      jobs.enqueue(enqueueJobInput.parse({ type: "ok", sessionId: "00000000-0000-4000-8000-000000000000" })),
    );
    expect(session).toMatchObject({
      code: "NOT_FOUND",
      message: "session 00000000-0000-4000-8000-000000000000 was not found",
    });
    const missing = await rejection(jobs.get({ id: "00000000-0000-4000-8000-000000000001" }));
    expect(missing.code).toBe("NOT_FOUND");
    const cursor = await rejection(
      jobs.list(listJobsInput.parse({ cursor: Buffer.from('["x","y"]').toString("base64url") })),
    );
    expect(cursor.message).toBe("cursor is not one this API returned");
    expect(await db.knex("jobs").count({ n: "*" })).toEqual([{ n: 0 }]);
  });
});
