import { acquireLockInput, renewLockInput } from "@logbook/contracts";
import type { ProjectLock } from "@logbook/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";

import { AppError } from "../errors.js";
import { rejection } from "../test-helpers.js";
import { LockService } from "./lock-service.js";
import { ProjectService } from "./project-service.js";

let db: TestDatabase;
let locks: LockService;
let projects: ProjectService;
beforeAll(async () => {
  db = await createTestDatabase();
  locks = new LockService({ knex: db.knex });
  projects = new ProjectService({ knex: db.knex });
});
afterAll(() => db.destroy());

let counter = 0;
async function newProject(): Promise<string> {
  counter += 1;
  return (await projects.upsert({ path: `/srv/locks/p${counter}` })).id;
}

/** Moves the project's lock into the past without sleeping: it is expired by the database clock. */
async function expire(projectId: string): Promise<void> {
  await db.knex.raw(
    `UPDATE project_locks SET acquired_at = now() - interval '2 hours', renewed_at = NULL,
       expires_at = now() - interval '1 hour' WHERE project_id = ?`,
    [projectId],
  );
}

const NO_SUCH_ID = "00000000-0000-4000-8000-000000000000";

describe("LockService.acquire under contention", () => {
  it("50 parallel acquirers: exactly one holder, the others get LOCK_HELD naming it", async () => {
    const projectId = await newProject();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => locks.acquire({ projectId, owner: `worker-${i}`, ttlMs: 60_000 })),
    );
    const won = results.filter((r): r is PromiseFulfilledResult<ProjectLock> => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(49);
    const holder = expectDefined(won[0]).value;
    for (const { reason } of lost) {
      expect(reason).toBeInstanceOf(AppError);
      const error = reason as AppError;
      expect(error.code).toBe("LOCK_HELD");
      expect(error.message).toContain(`"${holder.owner}"`);
      expect(error.message).toContain(holder.expiresAt);
      expect(error.details).toMatchObject({ owner: holder.owner, sessionId: null, expiresAt: holder.expiresAt });
    }
    expect(await locks.inspect({ projectId })).toEqual(holder);
    const rows = await db.knex("project_locks").where({ project_id: projectId }).select("owner");
    expect(rows).toEqual([{ owner: holder.owner }]);
  });

  it("50 parallel acquirers of an expired lock: exactly one takes it over", async () => {
    const projectId = await newProject();
    const old = await locks.acquire({ projectId, owner: "gone", ttlMs: 60_000 });
    await expire(projectId);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => locks.acquire({ projectId, owner: `taker-${i}`, ttlMs: 60_000 })),
    );
    const won = results.filter((r): r is PromiseFulfilledResult<ProjectLock> => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    const holder = expectDefined(won[0]).value;
    expect(holder.id).not.toBe(old.id);
    for (const r of results) {
      if (r.status === "rejected") expect((r.reason as AppError).details).toMatchObject({ owner: holder.owner });
    }
  });
});

describe("LockService lifecycle", () => {
  it("reports expiry by the database clock, ttl after acquisition", async () => {
    const projectId = await newProject();
    const lock = await locks.acquire({ projectId, owner: "a", ttlMs: 90_000 });
    expect(Date.parse(lock.expiresAt) - Date.parse(lock.acquiredAt)).toBe(90_000);
    expect(lock.renewedAt).toBeNull();
  });

  it("re-acquiring by the same owner renews: same lock, later expiry, acquiredAt kept", async () => {
    const projectId = await newProject();
    const first = await locks.acquire({ projectId, owner: "a", ttlMs: 60_000 });
    const again = await locks.acquire({ projectId, owner: "a", ttlMs: 600_000 });
    expect(again.id).toBe(first.id);
    expect(again.acquiredAt).toBe(first.acquiredAt);
    expect(again.renewedAt).not.toBeNull();
    expect(Date.parse(again.expiresAt)).toBeGreaterThan(Date.parse(first.expiresAt));
  });

  it("an expired lock reports as none and is taken over; its old owner is then refused", async () => {
    const projectId = await newProject();
    const old = await locks.acquire({ projectId, owner: "a", ttlMs: 60_000 });
    await expire(projectId);
    expect(await locks.inspect({ projectId })).toBeNull();

    const taken = await locks.acquire({ projectId, owner: "b", ttlMs: 60_000 });
    expect(taken).toMatchObject({ owner: "b", renewedAt: null });
    expect(taken.id).not.toBe(old.id);

    const renew = await rejection(locks.renew(renewLockInput.parse({ projectId, owner: "a" })));
    expect(renew.code).toBe("LOCK_HELD");
    expect(renew.message).toContain('locked by "b"');
    expect(renew.message).toContain('not by "a"');
    const release = await rejection(locks.release({ projectId, owner: "a" }));
    expect(release.code).toBe("LOCK_HELD");
    expect(release.details).toMatchObject({ owner: "b", expiresAt: taken.expiresAt });
    expect(await locks.inspect({ projectId })).toEqual(taken);
  });

  it("renew: only the owner, only while unexpired", async () => {
    const projectId = await newProject();
    const notLocked = await rejection(locks.renew(renewLockInput.parse({ projectId, owner: "a" })));
    expect(notLocked).toMatchObject({ code: "NOT_FOUND" });
    expect(notLocked.message).toContain('"a" holds no lock');

    const lock = await locks.acquire({ projectId, owner: "a", ttlMs: 60_000 });
    const renewed = await locks.renew({ projectId, owner: "a", ttlMs: 120_000 });
    expect(renewed.id).toBe(lock.id);
    expect(renewed.renewedAt).not.toBeNull();
    expect(Date.parse(renewed.expiresAt) - Date.parse(expectDefined(renewed.renewedAt))).toBe(120_000);

    const other = await rejection(locks.renew(renewLockInput.parse({ projectId, owner: "b" })));
    expect(other).toMatchObject({ code: "LOCK_HELD", details: { owner: "a" } });

    await expire(projectId);
    const lapsed = await rejection(locks.renew(renewLockInput.parse({ projectId, owner: "a" })));
    expect(lapsed.code).toBe("NOT_FOUND");
    expect(lapsed.message).toContain("expired at");
  });

  it("release: only by the owner; twice is harmless", async () => {
    const sessionRow = await db.knex("sessions").insert({}).returning<Array<{ id: string }>>("id");
    const sessionId = expectDefined(sessionRow[0]).id;
    const projectId = await newProject();
    await locks.acquire(acquireLockInput.parse({ projectId, owner: "a", sessionId }));

    const byOther = await rejection(locks.release({ projectId, owner: "b" }));
    expect(byOther).toMatchObject({ code: "LOCK_HELD", details: { owner: "a", sessionId } });
    expect(byOther.message).toContain(`(session ${sessionId})`);
    expect(await locks.inspect({ projectId })).not.toBeNull();

    expect(await locks.release({ projectId, owner: "a" })).toEqual({ released: true });
    expect(await locks.release({ projectId, owner: "a" })).toEqual({ released: false });
    expect(await locks.inspect({ projectId })).toBeNull();
    // Free now: anyone can take it.
    expect((await locks.acquire(acquireLockInput.parse({ projectId, owner: "b" }))).owner).toBe("b");
  });

  it("releasing one's own expired lock reports released: false", async () => {
    const projectId = await newProject();
    await locks.acquire(acquireLockInput.parse({ projectId, owner: "a" }));
    await expire(projectId);
    expect(await locks.release({ projectId, owner: "a" })).toEqual({ released: false });
    expect(await db.knex("project_locks").where({ project_id: projectId })).toHaveLength(0);
  });
});

describe("LockService errors", () => {
  it("unknown project is NOT_FOUND for every operation", async () => {
    for (const attempt of [
      () => locks.acquire(acquireLockInput.parse({ projectId: NO_SUCH_ID, owner: "a" })),
      () => locks.renew(renewLockInput.parse({ projectId: NO_SUCH_ID, owner: "a" })),
      () => locks.release({ projectId: NO_SUCH_ID, owner: "a" }),
      () => locks.inspect({ projectId: NO_SUCH_ID }),
    ]) {
      const error = await rejection(attempt());
      expect(error).toMatchObject({ code: "NOT_FOUND", message: `project ${NO_SUCH_ID} was not found` });
    }
  });

  it("unknown session is NOT_FOUND and nothing is locked", async () => {
    const projectId = await newProject();
    const error = await rejection(
      locks.acquire(acquireLockInput.parse({ projectId, owner: "a", sessionId: NO_SUCH_ID })),
    );
    expect(error).toMatchObject({ code: "NOT_FOUND", message: `session ${NO_SUCH_ID} was not found` });
    expect(await locks.inspect({ projectId })).toBeNull();
  });
});
