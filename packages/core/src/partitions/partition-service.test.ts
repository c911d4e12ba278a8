import { randomUUID } from "node:crypto";

import { retentionPolicy } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { RetentionService } from "../retention/retention-service.js";
import { DETACH_ATTEMPTS, PartitionService } from "./partition-service.js";

const DAY = 86_400_000;
const NOW = new Date();

describe("retention by partition", () => {
  let db: TestDatabase;
  let sessionId: string;
  let seq = 0;

  beforeEach(async () => {
    db = await createTestDatabase();
    // As if the server had been installed ten weeks ago: weekly ranges from then until four weeks from now.
    const service = new PartitionService({ knex: db.knex });
    for (const partition of await service.list()) {
      await db.knex.raw("ALTER TABLE events DETACH PARTITION ??", [partition.name]);
      await db.knex.raw("DROP TABLE ??", [partition.name]);
    }
    await service.ensureAhead({ rangeDays: 7, ahead: 1, now: new Date(NOW.getTime() - 70 * DAY) });
    await service.ensureAhead({ rangeDays: 7, ahead: 4, now: NOW });
    const [row] = await db.knex("sessions").insert({ status: "active" }).returning<Array<{ id: string }>>("id");
    sessionId = row?.id ?? "";
  });
  afterEach(async () => db.destroy());

  async function insert(count: number, occurredAt: Date): Promise<void> {
    await db.knex("events").insert(
      Array.from({ length: count }, () => ({
        id: randomUUID(),
        session_id: sessionId,
        seq: ++seq,
        event_type: "tick",
        source: "api",
        occurred_at: occurredAt,
      })),
    );
  }

  const retention = (mode: "drop" | "archive") =>
    new RetentionService(
      { knex: db.knex, now: () => NOW },
      retentionPolicy.parse({ eventMaxAgeDays: 30, sessionMaxAgeDays: 3650 }),
      mode,
    );

  it("drops whole partitions past the age limit and deletes the stragglers row by row", async () => {
    await insert(100, new Date(NOW.getTime() - 60 * DAY));
    await insert(50, new Date(NOW.getTime() - 45 * DAY));
    await insert(5, new Date(0)); // the default partition: deleted as rows
    await insert(10, new Date(NOW.getTime() - DAY));
    const cutoff = NOW.getTime() - 30 * DAY;
    const before = await new PartitionService({ knex: db.knex }).list();
    const old = before.filter((p) => p.to.getTime() <= cutoff).map((p) => p.name);
    expect(old.length).toBeGreaterThanOrEqual(4);

    const report = await retention("drop").run({ dryRun: false });
    expect(report.events).toBe(155);
    expect(await db.knex("events").count({ n: "*" }).first()).toEqual({ n: 10 });
    const after = (await new PartitionService({ knex: db.knex }).list()).map((p) => p.name);
    for (const name of old) expect(after).not.toContain(name);
    const leftovers = await db.knex.raw<{ rows: unknown[] }>("SELECT 1 FROM pg_class WHERE relname = ANY(?)", [old]);
    expect(leftovers.rows).toEqual([]);
  });

  it("archives instead: detached tables kept, and attached again they are back in events", async () => {
    await insert(20, new Date(NOW.getTime() - 60 * DAY));
    const victim = (await new PartitionService({ knex: db.knex }).list()).find(
      (p) => p.from.getTime() <= NOW.getTime() - 60 * DAY && p.to.getTime() > NOW.getTime() - 60 * DAY,
    );
    expect(victim).toBeDefined();
    const report = await retention("archive").run({ dryRun: false });
    expect(report.events).toBe(20);
    expect(await db.knex("events").count({ n: "*" }).first()).toEqual({ n: 0 });
    const archive = victim?.name.replace(/^events_/, "events_archive_") ?? "";
    expect(await db.knex(archive).count({ n: "*" }).first()).toEqual({ n: 20 });

    // The documented restore.
    // DDL takes no bound parameters: the bounds go in as literals (ISO times, no quotes inside).
    await db.knex.raw(
      `ALTER TABLE events ATTACH PARTITION ?? FOR VALUES FROM ('${victim?.from.toISOString() ?? ""}') TO ('${victim?.to.toISOString() ?? ""}')`,
      [archive],
    );
    expect(await db.knex("events").count({ n: "*" }).first()).toEqual({ n: 20 });
  });

  const rangeHolding = async (at: Date) => {
    const range = (await new PartitionService({ knex: db.knex }).list()).find(
      (p) => p.from.getTime() <= at.getTime() && p.to.getTime() > at.getTime(),
    );
    return expectDefined(range);
  };
  const tableExists = async (name: string) =>
    (await db.knex.raw<{ rows: unknown[] }>("SELECT 1 FROM pg_class WHERE relname = ?", [name])).rows.length > 0;

  it("finishes a range that a stopped run detached but did not drop", async () => {
    const at = new Date(NOW.getTime() - 60 * DAY);
    await insert(30, at);
    const victim = await rangeHolding(at);
    const service = new PartitionService({ knex: db.knex });
    // What a run leaves when it stops (crash, restart) between its two steps: detached, not dropped.
    expect(await service.detach([victim.name], "drop")).toBe(true);
    expect(await db.knex("events").count({ n: "*" }).first()).toEqual({ n: 0 });
    expect((await service.list()).map((p) => p.name)).not.toContain(victim.name);
    expect(await tableExists(victim.name)).toBe(true);

    // The next run finishes it, even with no event age policy left, and counts what it held.
    const report = await new RetentionService(
      { knex: db.knex, now: () => NOW },
      retentionPolicy.parse({ sessionMaxAgeDays: 3650 }),
    ).run({ dryRun: false });
    expect(report.events).toBe(30);
    expect(await tableExists(victim.name)).toBe(false);
  });

  it("archives a range a stopped run meant to archive, whatever the next run's mode", async () => {
    const at = new Date(NOW.getTime() - 60 * DAY);
    await insert(12, at);
    const victim = await rangeHolding(at);
    expect(await new PartitionService({ knex: db.knex }).detach([victim.name], "archive")).toBe(true);

    const report = await retention("drop").run({ dryRun: false });
    expect(report.events).toBe(12);
    const archive = victim.name.replace(/^events_/, "events_archive_");
    expect(await db.knex(archive).count({ n: "*" }).first()).toEqual({ n: 12 });
    expect(await tableExists(victim.name)).toBe(false);
    // No longer marked: a later run leaves the archive alone.
    expect((await retention("drop").run({ dryRun: false })).events).toBe(0);
    expect(await db.knex(archive).count({ n: "*" }).first()).toEqual({ n: 12 });
  });

  it("tries again while a transaction holds events, and leaves the range for the next run if it must", async () => {
    const at = new Date(NOW.getTime() - 60 * DAY);
    await insert(9, at);
    const victim = await rangeHolding(at);
    const cutoff = new Date(NOW.getTime() - 30 * DAY);
    // A reader in a long transaction holds a lock on events that a detach must wait for.
    const reader = await db.knex.transaction();
    await reader.raw("SELECT count(*) FROM events");

    let pauses = 0;
    const patient = new PartitionService({ knex: db.knex }, { pause: async () => void pauses++ });
    expect(await patient.retireOlderThan(cutoff, "drop")).toEqual({ partitions: [], events: 0 });
    expect(pauses).toBe(DETACH_ATTEMPTS - 1);
    expect((await patient.list()).map((p) => p.name)).toContain(victim.name);

    // The reader ends while the detach waits between two tries: the next try gets through.
    const released = new PartitionService({ knex: db.knex }, { pause: () => reader.commit().then(() => undefined) });
    const retired = await released.retireOlderThan(cutoff, "drop");
    expect(retired.partitions).toContain(victim.name);
    expect(retired.events).toBe(9);
    expect(await tableExists(victim.name)).toBe(false);
  });

  it("keeps ranges that reach past the cutoff", async () => {
    await insert(7, new Date(NOW.getTime() - 29 * DAY));
    const report = await retention("drop").run({ dryRun: false });
    expect(report.events).toBe(0);
    expect(await db.knex("events").count({ n: "*" }).first()).toEqual({ n: 7 });
  });
});
