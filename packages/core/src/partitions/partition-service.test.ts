import { randomUUID } from "node:crypto";

import { retentionPolicy } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { RetentionService } from "../retention/retention-service.js";
import { PartitionService } from "./partition-service.js";

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

  it("keeps ranges that reach past the cutoff", async () => {
    await insert(7, new Date(NOW.getTime() - 29 * DAY));
    const report = await retention("drop").run({ dryRun: false });
    expect(report.events).toBe(0);
    expect(await db.knex("events").count({ n: "*" }).first()).toEqual({ n: 7 });
  });
});
