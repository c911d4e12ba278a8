import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { EventModel, ProjectModel, SessionModel } from "./models/index.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

/** The constraints and cascades the services rely on, checked on real PostgreSQL. */
describe("schema", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.destroy());

  async function session(fields: Record<string, unknown> = {}): Promise<string> {
    const [row] = await db.knex("sessions").insert(fields).returning<Array<{ id: string }>>("id");
    return expectDefined(row).id;
  }

  it("deletes a session's children, events and records with it", async () => {
    const parent = await session();
    const child = await session({ parent_session_id: parent });
    const grandchild = await session({ parent_session_id: child });
    for (const id of [parent, child, grandchild]) {
      await db.knex("events").insert({
        id: randomUUID(),
        session_id: id,
        seq: 1,
        event_type: "Stop",
        source: "hook",
        occurred_at: new Date(),
      });
      await db.knex("session_messages").insert({ session_id: id, role: "user", text: "hi" });
      await db.knex("files").insert({ session_id: id, path: "src/a.ts" });
      await db.knex("steps").insert({ session_id: id, name: "build", sequence: 1 });
    }
    await db.knex("sessions").where({ id: parent }).delete();
    for (const table of ["sessions", "events", "session_messages", "files", "steps"]) {
      const column = table === "sessions" ? "id" : "session_id";
      const [{ count }] = (await db.knex(table).whereIn(column, [parent, child, grandchild]).count({ count: "*" })) as [
        { count: string },
      ];
      expect(Number(count), table).toBe(0);
    }
  });

  it("keeps a project that still has sessions (restrict)", async () => {
    const [project] = await db.knex("projects").insert({ path: "/srv/app" }).returning<Array<{ id: string }>>("id");
    await session({ project_id: expectDefined(project).id });
    await expect(
      db
        .knex("projects")
        .where({ id: expectDefined(project).id })
        .delete(),
    ).rejects.toMatchObject({ code: "23001" });
  });

  it("rejects unknown statuses, event shapes and escaping file paths", async () => {
    await expect(session({ status: "in_progress" })).rejects.toMatchObject({ code: "23514" });
    const id = await session();
    const event = { session_id: id, seq: 1, source: "hook", occurred_at: new Date() };
    await expect(
      db.knex("events").insert({ ...event, id: randomUUID(), event_type: "drop table; --" }),
    ).rejects.toMatchObject({ code: "23514" });
    await expect(
      db.knex("events").insert({ ...event, id: randomUUID(), event_type: "Stop", source: "telepathy" }),
    ).rejects.toMatchObject({ code: "23514" });
    for (const path of ["/etc/passwd", "../up", "a/../../b", "C:\\x", "a\\..\\b"]) {
      await expect(db.knex("files").insert({ session_id: id, path }), path).rejects.toMatchObject({ code: "23514" });
    }
    await db.knex("files").insert({ session_id: id, path: "a/..b/c..d" });
  });

  it("ignores a duplicate event on its key", async () => {
    const id = await session();
    const row = {
      id: randomUUID(),
      session_id: id,
      seq: 1,
      event_type: "Stop",
      source: "hook",
      occurred_at: new Date("2026-01-01Z"),
    };
    await db.knex("events").insert(row);
    const second = await db
      .knex("events")
      .insert({ ...row, seq: 2 })
      .onConflict(["session_id", "occurred_at", "id"])
      .ignore()
      .returning("id");
    expect(second).toHaveLength(0);
  });

  it("maps rows to camelCase models with relations both ways", async () => {
    const project = await ProjectModel.query(db.knex).insert({ path: "/srv/models" });
    const parent = await SessionModel.query(db.knex).insert({ projectId: project.id, title: "root" });
    await SessionModel.query(db.knex).insert({ parentSessionId: parent.id, title: "child" });
    await EventModel.query(db.knex).insert({
      id: randomUUID(),
      sessionId: parent.id,
      seq: 1,
      eventType: "SessionStart",
      source: "hook",
      occurredAt: new Date(),
    });
    const loaded = await SessionModel.query(db.knex)
      .findById(parent.id)
      .withGraphFetched("[children, project.sessions, events.session]");
    expect(loaded?.children?.map((c) => c.title)).toEqual(["child"]);
    expect(loaded?.project?.path).toBe("/srv/models");
    expect(loaded?.project?.sessions?.map((s) => s.id)).toContain(parent.id);
    expect(loaded?.events?.[0]?.session?.id).toBe(parent.id);
    expect(typeof loaded?.inputTokens).toBe("number");
  });
});
