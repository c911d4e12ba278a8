/**
 * Archiving or deleting a tree while a batch is ingested into two of its sessions: both lock
 * session rows, and they must take them in one order (by id, as ingest and retention do), or
 * each ends up holding a row the other waits for — a deadlock, which PostgreSQL breaks by
 * aborting one of them (the archive then fails with 409, or the ingest pays a second and a retry).
 *
 * The steps are ordered by locks, never by time: a third transaction holds one session of the
 * tree (D, the lowest id), so the archive stops at D; the ingest, started next, either finishes
 * (locks in one order: the archive holds nothing yet) or stops waiting for the root the archive
 * holds (the old order: root first); then D is released.
 */
import { randomUUID } from "node:crypto";

import { ingestEventsInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { SessionService } from "./session-service.js";

interface Outcome<T> {
  settled: boolean;
  value?: T;
  error?: unknown;
}

/** Tracks a promise without awaiting it, so a test can look at whether it has settled. */
function track<T>(promise: Promise<T>): { outcome: Outcome<T>; done: Promise<void> } {
  const outcome: Outcome<T> = { settled: false };
  const done = promise.then(
    (value) => {
      Object.assign(outcome, { settled: true, value });
    },
    (error: unknown) => {
      Object.assign(outcome, { settled: true, error });
    },
  );
  return { outcome, done };
}

describe("archive and delete against ingest: one lock order", () => {
  let db: TestDatabase;
  let sessions: SessionService;
  /** The codes of every query that failed on this database (a deadlock victim is retried silently by ingest). */
  const failedCodes: string[] = [];
  /** The SQL of every query sent, to tell which ingest path ran. */
  const sent: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    sessions = new SessionService({ knex: db.knex });
    db.knex.on("query-error", (error: { code?: unknown }) => failedCodes.push(String(error.code)));
    db.knex.on("query", (query: { sql: string }) => sent.push(query.sql));
  });
  afterAll(async () => db.destroy());
  beforeEach(() => {
    failedCodes.length = 0;
  });

  /** Sessions waiting for a lock on this database, bar the one asking. */
  const lockWaiters = async () => {
    const { rows } = await db.knex.raw<{ rows: Array<{ n: number }> }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
    );
    return rows[0]?.n ?? 0;
  };

  /** A root R with children D and C, ids D < C < R, made in the order R, D, C. */
  async function makeTree() {
    const [d, c, r] = [randomUUID(), randomUUID(), randomUUID()].sort();
    const tag = randomUUID();
    const ext = { r: `root-${tag}`, c: `child-${tag}`, d: `other-${tag}` };
    await sessions.create({ id: r, externalId: ext.r });
    await sessions.create({ id: d, externalId: ext.d, parentSessionId: r });
    await sessions.create({ id: c, externalId: ext.c, parentSessionId: r });
    return { ids: { r: r as string, c: c as string, d: d as string }, ext };
  }

  const batch = (ext: { r: string; c: string }) =>
    ingestEventsInput.parse({
      events: [ext.c, ext.r].map((externalSessionId): IngestEvent => ({
        externalSessionId,
        eventType: "tick",
        source: "api",
      })),
    });

  const paths = [
    { path: "the ordinary pipeline", oneCallIngest: false, marker: "FOR NO KEY UPDATE" },
    { path: "the one-call path", oneCallIngest: true, marker: "logbook_ingest_group" },
  ];
  const operations: Array<{ operation: string; run: (id: string) => Promise<unknown> }> = [
    { operation: "archive", run: (id) => sessions.setArchived({ id, archived: true }) },
    { operation: "delete", run: (id) => sessions.delete({ id }) },
  ];

  describe.each(paths)("ingest through $path", ({ oneCallIngest, marker }) => {
    it.each(operations)("$operation of the tree and an ingest into C and R neither deadlock", async ({ run }) => {
      const { ids, ext } = await makeTree();
      const events = new EventService({ knex: db.knex, oneCallIngest });
      // A first batch, so the one-call path knows these sessions' state (it starts from it).
      await events.ingest(batch(ext));

      const holder = await db.knex.transaction();
      try {
        await holder.raw("SELECT id FROM sessions WHERE id = ? FOR NO KEY UPDATE", [ids.d]);
        const operation = track(run(ids.r));
        await expect
          .poll(lockWaiters, { timeout: 30_000, message: "the archive/delete to wait for session D" })
          .toBe(1);

        sent.length = 0;
        const ingest = track(events.ingest(batch(ext)));
        // Either it is done (nothing of the tree was held but D), or it waits for a row the
        // archive/delete holds.
        await expect
          .poll(async () => (ingest.outcome.settled ? "settled" : `${await lockWaiters()} waiting`), {
            timeout: 30_000,
            message: "the ingest to finish or to wait for the archive/delete",
          })
          .toMatch(/^(settled|2 waiting)$/);
        await holder.commit();

        await Promise.all([operation.done, ingest.done]);
        expect(operation.outcome.error).toBeUndefined();
        expect(ingest.outcome.error).toBeUndefined();
        expect(ingest.outcome.value).toMatchObject({ accepted: 2 });
        expect(failedCodes).not.toContain("40P01");
        expect(sent.some((sql) => sql.includes(marker))).toBe(true);
      } finally {
        if (!holder.isCompleted()) await holder.rollback();
      }
    });
  });

  it("deletes the events the ingest stored first, with the tree", async () => {
    const { ids, ext } = await makeTree();
    const events = new EventService({ knex: db.knex });
    await events.ingest(batch(ext));
    expect(await sessions.delete({ id: ids.r })).toEqual({ deleted: 3 });
    const left = await db.knex("events").whereIn("session_id", Object.values(ids)).count({ n: "*" }).first();
    expect(left).toEqual({ n: 0 });
  });

  it("an ingest that found its sessions before a delete of their tree committed stores its events anew", async () => {
    const { ids, ext } = await makeTree();
    const events = new EventService({ knex: db.knex, oneCallIngest: false });
    await events.ingest(batch({ r: ext.r, c: ext.d }));
    // The delete stops in its cascade, at an event of D: the tree is locked and R deleted.
    const holder = await db.knex.transaction();
    try {
      await holder.raw("SELECT id FROM events WHERE session_id = ? FOR UPDATE", [ids.d]);
      const deletion = track(sessions.delete({ id: ids.r }));
      await expect.poll(lockWaiters, { timeout: 30_000, message: "the delete to wait for an event of D" }).toBe(1);
      const ingest = track(events.ingest(batch(ext)));
      await expect.poll(lockWaiters, { timeout: 30_000, message: "the ingest to wait for the delete" }).toBe(2);
      await holder.commit();
      await Promise.all([deletion.done, ingest.done]);
      expect(deletion.outcome).toMatchObject({ value: { deleted: 3 } });
      // Not "2 duplicates" of events that were never stored: the sessions are made again.
      expect(ingest.outcome.error).toBeUndefined();
      expect(ingest.outcome.value).toMatchObject({ accepted: 2, duplicates: 0 });
      const stored = await db
        .knex("events as e")
        .join("sessions as s", "s.id", "e.session_id")
        .whereIn("s.external_id", [ext.r, ext.c])
        .pluck("s.id");
      expect(stored).toHaveLength(2);
      expect(stored).not.toContain(ids.r);
      expect(stored).not.toContain(ids.c);
    } finally {
      if (!holder.isCompleted()) await holder.rollback();
    }
  });

  it("a session update naming a manual parent with a lower id locks the parent first: no deadlock", async () => {
    const [low, high] = [randomUUID(), randomUUID()].sort() as [string, string];
    await sessions.create({ id: low, externalId: `low-${low}` });
    await sessions.create({ id: high, externalId: `high-${high}` });
    // The other side locks both in id order, as an archive, delete or retention of a tree
    // holding both does: the lower one first, then (below) the higher one.
    const holder = await db.knex.transaction();
    try {
      await holder.raw("SELECT id FROM sessions WHERE id = ? FOR UPDATE", [low]);
      const update = track(sessions.update({ id: high, manualParentSessionId: low }));
      await expect
        .poll(lockWaiters, { timeout: 30_000, message: "the update to wait for the parent the holder holds" })
        .toBe(1);
      // In id order, the update holds nothing yet and this is granted; out of order, the update
      // holds the session and waits for the parent: a deadlock, and PostgreSQL aborts one side.
      const second = await holder.raw("SELECT id FROM sessions WHERE id = ? FOR UPDATE", [high]).then(
        () => "locked",
        (error: { code?: unknown }) => String(error.code),
      );
      expect(second).toBe("locked");
      await holder.commit();
      await update.done;
      expect(update.outcome.error).toBeUndefined();
      expect(update.outcome.value).toMatchObject({ id: high, manualParentSessionId: low });
      expect(failedCodes).not.toContain("40P01");
    } finally {
      if (!holder.isCompleted()) await holder.rollback();
    }
  });

  it("an ingest linking an existing session to its parent locks it in id order: no deadlock", async () => {
    const [a, c, p] = [randomUUID(), randomUUID(), randomUUID()].sort() as [string, string, string];
    const tag = randomUUID();
    const ext = { a: `a-${tag}`, c: `c-${tag}`, p: `p-${tag}` };
    await sessions.create({ id: a, externalId: ext.a });
    await sessions.create({ id: c, externalId: ext.c });
    await sessions.create({ id: p, externalId: ext.p });
    const events = new EventService({ knex: db.knex, oneCallIngest: false });
    // Into A and C; C (first seen without a parent) learns its parent P.
    const linking = ingestEventsInput.parse({
      events: [
        { externalSessionId: ext.c, parentExternalSessionId: ext.p, eventType: "tick", source: "api" },
        { externalSessionId: ext.a, eventType: "tick", source: "api" },
      ] satisfies IngestEvent[],
    });
    // The other side locks A, then C, in id order, as another batch into both does.
    const holder = await db.knex.transaction();
    try {
      await holder.raw("SELECT id FROM sessions WHERE id = ? FOR NO KEY UPDATE", [a]);
      const ingest = track(events.ingest(linking));
      await expect.poll(lockWaiters, { timeout: 30_000, message: "the ingest to wait for session A" }).toBe(1);
      // In id order the ingest holds nothing yet and this is granted; with the link written
      // first, the ingest holds C and waits for A: a deadlock (ingest would retry its victim).
      const second = await holder.raw("SELECT id FROM sessions WHERE id = ? FOR NO KEY UPDATE", [c]).then(
        () => "locked",
        (error: { code?: unknown }) => String(error.code),
      );
      expect(second).toBe("locked");
      await holder.commit();
      await ingest.done;
      expect(ingest.outcome.error).toBeUndefined();
      expect(ingest.outcome.value).toMatchObject({ accepted: 2 });
      expect(failedCodes).not.toContain("40P01");
      const linked = await db.knex("sessions").where({ id: c }).pluck("parent_session_id");
      expect(linked).toEqual([p]);
    } finally {
      if (!holder.isCompleted()) await holder.rollback();
    }
  });

  it("archives a child added between reading the tree and locking it", async () => {
    const { ids } = await makeTree();
    const holder = await db.knex.transaction();
    try {
      await holder.raw("SELECT id FROM sessions WHERE id = ? FOR NO KEY UPDATE", [ids.d]);
      const archive = track(sessions.setArchived({ id: ids.r, archived: true }));
      await expect.poll(lockWaiters, { timeout: 30_000, message: "the archive to wait for session D" }).toBe(1);
      // C is not locked yet (D comes first): a new child of C can still be attached.
      const late = await sessions.create({ parentSessionId: ids.c });
      await holder.commit();
      await archive.done;
      expect(archive.outcome.error).toBeUndefined();
      const unarchived = await db
        .knex("sessions")
        .whereIn("id", [...Object.values(ids), late.id])
        .whereNull("archived_at")
        .pluck("id");
      expect(unarchived).toEqual([]);
    } finally {
      if (!holder.isCompleted()) await holder.rollback();
    }
  });
});
