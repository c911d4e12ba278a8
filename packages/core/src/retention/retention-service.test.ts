import { randomUUID } from "node:crypto";

import { type RetentionPolicy, retentionReport, type RetentionReport, retentionRunInput } from "@logbook/contracts";
import type { Knex } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
// Brings in the `inject()` keys that @logbook/db/testing reads (declared beside its global setup).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { RETENTION_LOCK, RetentionService } from "./retention-service.js";

const NOW = new Date("2026-06-01T12:00:00Z");
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000);

/** Sessions end 30 days after the policy's age; batches of 3 so every phase takes several. */
const POLICY: RetentionPolicy = {
  sessionMaxAgeDays: 30,
  eventMaxAgeDays: null,
  archiveInsteadOfDelete: false,
  batchSize: 3,
};

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(() => db.destroy());

const service = (policy: Partial<RetentionPolicy> = {}) =>
  new RetentionService({ knex: db.knex, now: () => NOW }, { ...POLICY, ...policy });

interface Seeded {
  /** Session name -> id. */
  s: Record<string, string>;
}

/**
 * The mix retention must sort out (`old` = ended 100+ days ago, the policy says 30):
 *   r1 completed, old; children c1a (completed, old) with grandchild g1 (terminated, old)
 *      and c1b (failed, ended yesterday: goes with its root)       -> purged
 *   r2 failed, no ended_at, last active 200 days ago                -> purged (fallback)
 *   r3 cancelled, old, already archived                             -> purged; archiving skips it
 *   r4 completed, old, with an active child k4 and an old done k4b  -> kept whole
 *   r5 completed, old; child r5c completed; grandchild r5g idle     -> kept whole (live grandchild)
 *   a1 active, last active 100 days ago                             -> kept (not terminal)
 *   y1 completed 5 days ago                                         -> kept (young)
 *   a2 active root; its child c2 completed long ago                 -> kept (a child never goes alone)
 * Events are old (90+ days) except those of c1b, y1 and a2, which are recent.
 */
async function seed(knex: Knex): Promise<Seeded> {
  const s: Record<string, string> = {};
  let n = 0;
  const session = async (name: string, fields: Record<string, unknown>, parent?: string) => {
    n += 1;
    s[name] = `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
    await knex("sessions").insert({
      id: s[name],
      title: name,
      parent_session_id: parent ? s[parent] : null,
      created_at: daysAgo(400),
      last_activity_at: fields.ended_at ?? daysAgo(1),
      ...fields,
    });
  };
  // Ids in insertion order, so root batches are known: r4, r1, r2 | r5, r3 with batches of 3.
  await session("r4", { status: "completed", ended_at: daysAgo(100) });
  await session("k4", { status: "active", last_activity_at: daysAgo(99) }, "r4");
  await session("k4b", { status: "completed", ended_at: daysAgo(100) }, "r4");
  await session("r1", { status: "completed", ended_at: daysAgo(100) });
  await session("c1a", { status: "completed", ended_at: daysAgo(120) }, "r1");
  await session("g1", { status: "terminated", ended_at: daysAgo(130) }, "c1a");
  await session("c1b", { status: "failed", ended_at: daysAgo(1) }, "r1");
  await session("r2", { status: "failed", ended_at: null, last_activity_at: daysAgo(200) });
  await session("r5", { status: "completed", ended_at: daysAgo(100) });
  await session("r5c", { status: "completed", ended_at: daysAgo(100) }, "r5");
  await session("r5g", { status: "idle", last_activity_at: daysAgo(95) }, "r5c");
  await session("r3", { status: "cancelled", ended_at: daysAgo(150), archived_at: daysAgo(140) });
  await session("a1", { status: "active", last_activity_at: daysAgo(100) });
  await session("y1", { status: "completed", ended_at: daysAgo(5) });
  await session("a2", { status: "active", last_activity_at: daysAgo(1) });
  await session("c2", { status: "completed", ended_at: daysAgo(300) }, "a2");

  // As ingest stores them: seq 1..n per session, and the session's counter at n.
  const events = async (name: string, count: number, ageDays: number) => {
    await knex("sessions").where({ id: s[name] }).update({ last_event_seq: count });
    for (let i = 0; i < count; i += 1) {
      await knex("events").insert({
        id: randomUUID(),
        session_id: s[name],
        seq: i + 1,
        event_type: "PreToolUse",
        source: "hook",
        occurred_at: new Date(daysAgo(ageDays).getTime() + i * 1000),
      });
    }
  };
  await events("r1", 4, 100);
  await events("c1a", 3, 120);
  await events("g1", 2, 130);
  await events("c1b", 1, 1);
  await events("r2", 5, 200);
  await events("r3", 2, 150);
  await events("r4", 2, 100);
  await events("k4", 1, 99);
  await events("r5g", 1, 95);
  await events("a1", 3, 90);
  await events("y1", 2, 5);
  await events("a2", 2, 1);
  await events("c2", 1, 300);

  await knex("session_messages").insert([
    { session_id: s.r1, role: "user", text: "hello" },
    { session_id: s.r1, role: "assistant", text: "hi" },
    { session_id: s.r2, role: "user", text: "x" },
    { session_id: s.a1, role: "user", text: "still here" },
  ]);
  await knex("files").insert([
    { session_id: s.r1, path: "src/a.ts" },
    { session_id: s.y1, path: "src/b.ts" },
  ]);
  const stepId = randomUUID();
  await knex("steps").insert([
    { id: stepId, session_id: s.c1a, name: "analyse", sequence: 0 },
    { session_id: s.c1a, name: "write", sequence: 1 },
    { session_id: s.r4, name: "kept", sequence: 0 },
  ]);
  await knex("artifacts").insert([
    { session_id: s.c1a, step_id: stepId, artifact_type: "report", name: "r", content_path: "out/r.md" },
    { session_id: s.r1, artifact_type: "diff", name: "d", content_path: "out/d.diff" },
    { session_id: s.r5, artifact_type: "diff", name: "kept", content_path: "out/k.diff" },
  ]);
  return { s };
}

/** Every row id of every table retention touches, for before/after comparisons. */
async function snapshot(knex: Knex): Promise<Record<string, string[]>> {
  const ids = async (table: string, select = "id") =>
    (
      (await knex(table)
        .select(knex.raw(`${select}::text AS id`))
        .orderBy("id")) as Array<{ id: string }>
    ).map((r) => r.id);
  return {
    sessions: await ids("sessions"),
    archived: (
      (await knex("sessions").whereNotNull("archived_at").select("id").orderBy("id")) as Array<{ id: string }>
    ).map((r) => r.id),
    events: await ids("events"),
    messages: await ids("session_messages"),
    files: await ids("files"),
    steps: await ids("steps"),
    artifacts: await ids("artifacts"),
  };
}

const namesOf = async (knex: Knex, where: (q: Knex.QueryBuilder) => void = () => undefined) => {
  const q = knex("sessions").select("title").orderBy("title");
  where(q);
  return ((await q) as Array<{ title: string }>).map((r) => r.title);
};

/** The counts of a report, without what legitimately differs between a dry and a real run. */
const counts = ({ dryRun: _d, durationMs: _t, ...rest }: RetentionReport) => rest;

describe("RetentionService", () => {
  it("purges exactly the qualifying trees, in several batches, and the dry run counts the same", async () => {
    const { s } = await seed(db.knex);
    const before = await snapshot(db.knex);

    const dry = await service().run({ dryRun: true });
    expect(retentionReport.parse(dry)).toEqual(dry);
    expect(await snapshot(db.knex)).toEqual(before);
    expect(dry).toMatchObject({
      dryRun: true,
      ran: true,
      policy: POLICY,
      sessions: 6, // r1, c1a, g1, c1b, r2, r3
      sessionsArchived: 0,
      events: 4 + 3 + 2 + 1 + 5 + 2,
      messages: 3,
      files: 1,
      steps: 2,
      artifacts: 2,
      batches: 2, // roots r4, r1, r2 | r5, r3: both batches hold a purged tree
    });

    const statements: Array<{ sql: string; bindings: unknown[] }> = [];
    const listen = (query: { sql: string; bindings?: unknown[] }) =>
      statements.push({ sql: query.sql, bindings: query.bindings ?? [] });
    db.knex.on("query", listen);
    const real = await service().run({ dryRun: false });
    db.knex.off("query", listen);
    expect(real.dryRun).toBe(false);
    // Sessions with more events than a chunk (r1: 4, r2: 5) lose them in seq ranges of 3 first...
    const ranges = statements.filter((q) => /WHERE session_id = \S+ AND seq > \S+ AND seq <= /.test(q.sql));
    expect(ranges.map((q) => q.bindings.slice(0, 3))).toEqual([
      [s.r1, 0, 3],
      [s.r1, 3, 6],
      [s.r2, 0, 3],
      [s.r2, 3, 6],
    ]);
    // ...then whole trees go in groups of about 3 events, a transaction each: r1's tree
    // (6 events left in c1a, g1, c1b) alone, r2 (none left) alone, then r3 in the second batch.
    const groups = statements.filter((q) => q.sql.startsWith("DELETE FROM sessions WHERE id = ANY"));
    expect(groups.map((q) => [...(q.bindings[0] as string[])].sort())).toEqual([
      [s.r1, s.c1a, s.g1, s.c1b].sort(),
      [s.r2],
      [s.r3],
    ]);
    expect(counts(real)).toEqual(counts(dry));

    const kept = ["a1", "a2", "c2", "k4", "k4b", "r4", "r5", "r5c", "r5g", "y1"];
    expect(await namesOf(db.knex)).toEqual(kept);
    const after = await snapshot(db.knex);
    const keptEvents = (await db.knex<{ session_id: string }>("events").select("session_id")).map((r) => r.session_id);
    expect(new Set(keptEvents)).toEqual(new Set(["r4", "k4", "r5g", "a1", "y1", "a2", "c2"].map((n) => s[n])));
    expect(after.events).toHaveLength((before.events?.length ?? 0) - 17);
    expect(after.messages).toHaveLength(1);
    expect(after.files).toHaveLength(1);
    expect(after.steps).toHaveLength(1);
    expect(after.artifacts).toHaveLength(1);

    // Nothing left to do: a second run finds nothing.
    expect(counts(await service().run({ dryRun: false }))).toMatchObject({ sessions: 0, events: 0, batches: 0 });
  });

  it("purges metric points with their named session or by age, and the dry run counts the same", async () => {
    const { s } = await seed(db.knex);
    // Claude Code's session ids, as OTel metric points name them.
    await db.knex("sessions").where({ id: s.r1 }).update({ external_id: "cc-r1" }); // purged
    await db.knex("sessions").where({ id: s.a1 }).update({ external_id: "cc-a1" }); // kept (live)
    await db.knex("sessions").where({ id: s.r3 }).update({ external_id: "cc-r3" }); // purged, archived before
    const point = (name: string, session: string | null, days: number) => ({
      id: randomUUID(),
      name,
      kind: "sum",
      external_session_id: session,
      value: 1,
      time: daysAgo(days),
    });
    await db
      .knex("otel_metric_points")
      .insert([
        point("r1-old", "cc-r1", 100),
        point("a1-old", "cc-a1", 100),
        point("a1-recent", "cc-a1", 10),
        point("never-came-old", "cc-never", 100),
        point("never-came-young", "cc-never", 5),
        point("no-session-old", null, 100),
        point("r3-old", "cc-r3", 100),
      ]);
    const names = async () =>
      ((await db.knex("otel_metric_points").select("name").orderBy("name")) as Array<{ name: string }>).map(
        (r) => r.name,
      );

    // Archiving keeps every session, so only an event age could take points: none set.
    expect(await service({ archiveInsteadOfDelete: true }).run({ dryRun: false })).toMatchObject({ metricPoints: 0 });
    expect(await names()).toHaveLength(7);

    const dry = await service().run({ dryRun: true });
    expect(dry.metricPoints).toBe(4);
    expect(await names()).toHaveLength(7);
    const real = await service().run({ dryRun: false });
    expect(counts(real)).toEqual(counts(dry));
    expect(await names()).toEqual(["a1-old", "a1-recent", "never-came-young"]);

    // The event age takes points whatever their session, as it takes events.
    expect(await service({ eventMaxAgeDays: 7 }).run({ dryRun: false })).toMatchObject({ metricPoints: 2 });
    expect(await names()).toEqual(["never-came-young"]);
  });

  it("with a batch size of 1 (one root a batch, one row a chunk) removes the same rows", async () => {
    await seed(db.knex);
    const report = await service({ batchSize: 1 }).run({ dryRun: false });
    expect(report).toMatchObject({
      sessions: 6,
      events: 17,
      messages: 3,
      files: 1,
      steps: 2,
      artifacts: 2,
      batches: 3,
    });
    expect(await namesOf(db.knex)).toEqual(["a1", "a2", "c2", "k4", "k4b", "r4", "r5", "r5c", "r5g", "y1"]);
  });

  it("archives instead of deleting: whole qualifying trees, skipping what is archived already", async () => {
    await seed(db.knex);
    const before = await snapshot(db.knex);

    const dry = await service().run({ dryRun: true, policy: { archiveInsteadOfDelete: true } });
    expect(await snapshot(db.knex)).toEqual(before);
    expect(dry).toMatchObject({
      sessions: 0,
      sessionsArchived: 5,
      events: 0,
      messages: 0,
      policy: { ...POLICY, archiveInsteadOfDelete: true },
    });

    const real = await service().run({ dryRun: false, policy: { archiveInsteadOfDelete: true } });
    expect(counts(real)).toEqual(counts(dry));
    const after = await snapshot(db.knex);
    // Nothing deleted, anywhere.
    expect({ ...after, archived: [] }).toEqual({ ...before, archived: [] });
    expect(await namesOf(db.knex, (q) => void q.whereNotNull("archived_at"))).toEqual([
      "c1a",
      "c1b",
      "g1",
      "r1",
      "r2",
      "r3",
    ]);
    const stamped = await db
      .knex<{ title: string; archived_at: Date }>("sessions")
      .whereIn("title", ["r1", "g1", "r2"])
      .select("archived_at");
    expect(stamped.map((r) => r.archived_at.toISOString())).toEqual([
      NOW.toISOString(),
      NOW.toISOString(),
      NOW.toISOString(),
    ]);
    const r3 = await db
      .knex<{ title: string; archived_at: Date }>("sessions")
      .where("title", "r3")
      .first("archived_at");
    expect(r3?.archived_at.toISOString()).toBe(daysAgo(140).toISOString());

    // Archived trees are not looked at again.
    expect(await service().run({ dryRun: false, policy: { archiveInsteadOfDelete: true } })).toMatchObject({
      sessionsArchived: 0,
      batches: 0,
    });
  });

  it("purges events older than eventMaxAgeDays in any session, counting overlaps once", async () => {
    const { s } = await seed(db.knex);
    const policy = { eventMaxAgeDays: 60 };

    const dry = await service().run({ dryRun: true, policy });
    // Trees: 17 events. Old events elsewhere: r4 2, k4 1, r5g 1, a1 3, c2 1 = 8.
    expect(dry).toMatchObject({ sessions: 6, events: 17 + 8 });
    const real = await service().run({ dryRun: false, policy });
    expect(counts(real)).toEqual(counts(dry));

    const left = await db.knex<{ session_id: string; occurred_at: Date }>("events").select("session_id", "occurred_at");
    expect(left.every((e) => e.occurred_at >= daysAgo(60))).toBe(true);
    expect(new Set(left.map((e) => e.session_id))).toEqual(new Set([s.y1, s.a2]));
    // Sessions are untouched by the event rule: the active one whose events all went is still there.
    expect(await namesOf(db.knex)).toContain("a1");
  });

  it("purges old events alone when sessions are kept, in chunks of batchSize", async () => {
    await seed(db.knex);
    const policy = { sessionMaxAgeDays: 36_500, eventMaxAgeDays: 60 };
    const sessionsBefore = await namesOf(db.knex);
    const dry = await service().run({ dryRun: true, policy });
    expect(dry).toMatchObject({ sessions: 0, events: 24, batches: 8 }); // 24 old events, 3 a chunk
    const real = await service().run({ dryRun: false, policy });
    expect(counts(real)).toEqual(counts(dry));
    expect(await namesOf(db.knex)).toEqual(sessionsBefore);
    expect(await db.knex("events").count({ n: "*" }).first()).toEqual({ n: 5 });
  });

  it("keeps a tree whose root is resumed while the purge runs, even the events of its large sessions", async () => {
    const { s } = await seed(db.knex);
    const r1Tree = [expectDefined(s.r1), expectDefined(s.c1a), expectDefined(s.g1), expectDefined(s.c1b)];
    const eventsOf = (ids: string[]) => db.knex("events").whereIn("session_id", ids).count({ n: "*" }).first();
    expect(await eventsOf(r1Tree)).toEqual({ n: 10 });

    // Another writer resumes r1 (4 events: more than a chunk of 3, so the purge would take
    // them in seq ranges) and has not committed yet when the purge reaches it.
    const writer = await db.knex.transaction();
    await writer("sessions").where({ id: s.r1 }).update({ status: "active", ended_at: null, last_activity_at: NOW });
    const purging = service().run({ dryRun: false });
    const waitingForLock = async () => {
      const row = await db
        .knex("pg_stat_activity")
        .whereRaw("datname = current_database()")
        .where({ wait_event_type: "Lock" })
        .count({ n: "*" })
        .first();
      return Number(row?.n ?? 0);
    };
    await expect.poll(waitingForLock, { timeout: 10_000 }).toBe(1);
    await writer.commit();
    const report = await purging;

    // r1's tree is live again: nothing of it went. r2 (also over a chunk) and r3 still went.
    expect(await eventsOf(r1Tree)).toEqual({ n: 10 });
    expect(await namesOf(db.knex, (q) => q.whereIn("id", r1Tree))).toEqual(["c1a", "c1b", "g1", "r1"]);
    expect(await namesOf(db.knex, (q) => q.whereIn("id", [expectDefined(s.r2), expectDefined(s.r3)]))).toEqual([]);
    expect(report).toMatchObject({ sessions: 2, events: 7 });
  });

  it("does nothing and says so when another process holds the retention lock", async () => {
    await seed(db.knex);
    const before = await snapshot(db.knex);
    // Another process: a connection of its own that holds the lock for the whole test.
    const pool = db.knex.client as {
      acquireConnection(): Promise<unknown>;
      releaseConnection(c: unknown): Promise<unknown>;
    };
    const holder = await pool.acquireConnection();
    try {
      const held = await db.knex
        .raw<{ rows: Array<{ ok: boolean }> }>("SELECT pg_try_advisory_lock(?, ?) AS ok", [
          RETENTION_LOCK.namespace,
          RETENTION_LOCK.key,
        ])
        .connection(holder);
      expect(held.rows[0]?.ok).toBe(true);

      const report = await service().run({ dryRun: false, policy: { eventMaxAgeDays: 1 } });
      expect(report).toMatchObject({
        ran: false,
        dryRun: false,
        sessions: 0,
        sessionsArchived: 0,
        events: 0,
        messages: 0,
        files: 0,
        steps: 0,
        artifacts: 0,
        metricPoints: 0,
        batches: 0,
      });
      expect(await snapshot(db.knex)).toEqual(before);
    } finally {
      await db.knex
        .raw("SELECT pg_advisory_unlock(?, ?)", [RETENTION_LOCK.namespace, RETENTION_LOCK.key])
        .connection(holder);
      await pool.releaseConnection(holder);
    }
    // Released: the next run goes ahead.
    expect(await service().run({ dryRun: true })).toMatchObject({ ran: true, sessions: 6 });
  });

  it("lets only one of two simultaneous runs work, and releases the lock afterwards", async () => {
    await seed(db.knex);
    const [one, two] = await Promise.all([service().run({ dryRun: false }), service().run({ dryRun: false })]);
    // Either both ran one after the other (the second finding nothing), or one was turned away.
    const ran = [one, two].filter((r) => r.ran);
    expect(ran.reduce((sum, r) => sum + r.sessions, 0)).toBe(6);
    const heldLocks = await db
      .knex("pg_locks")
      .where({ locktype: "advisory", classid: RETENTION_LOCK.namespace, objid: RETENTION_LOCK.key, objsubid: 2 })
      .whereRaw("database = (SELECT oid FROM pg_database WHERE datname = current_database())")
      .count({ n: "*" })
      .first();
    expect(heldLocks).toEqual({ n: 0 });
  });

  it("uses the constructor's policy unless the run overrides it (the retention router's tests refuse an invalid one)", async () => {
    await seed(db.knex);
    const lenient = new RetentionService({ knex: db.knex, now: () => NOW }, { ...POLICY, sessionMaxAgeDays: 365 });
    expect(await lenient.run()).toMatchObject({
      dryRun: true,
      sessions: 0,
      policy: { sessionMaxAgeDays: 365, batchSize: 3 },
    });
    expect(await lenient.run(retentionRunInput.parse({ policy: { sessionMaxAgeDays: 30 } }))).toMatchObject({
      sessions: 6,
      policy: { sessionMaxAgeDays: 30 },
    });
  });
});
