import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { listSessionsInput } from "@logbook/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { AppError } from "../errors.js";
import { EventService } from "../events/event-service.js";
import { SessionService } from "./session-service.js";

describe("SessionService", () => {
  let db: TestDatabase;
  let sessions: SessionService;
  let events: EventService;
  beforeAll(async () => {
    db = await createTestDatabase();
    sessions = new SessionService({ knex: db.knex });
    events = new EventService({ knex: db.knex });
  });
  afterAll(async () => db.destroy());

  it("creates a session with a project and finds it by id and external id", async () => {
    const created = await sessions.create({
      externalId: "ext-1",
      projectPath: "/srv/app/",
      title: "first",
      initialQuery: "fix it",
    });
    expect(created.status).toBe("pending");
    expect(created.projectId).not.toBeNull();
    expect(created.tokens).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      costUsd: 0,
      unpricedMessages: 0,
    });
    expect(await sessions.get({ id: created.id })).toEqual(created);
    expect((await sessions.get({ externalId: "ext-1" })).id).toBe(created.id);
    expect(Object.keys(created)).not.toContain("lastEventSeq");
  });

  it("refuses a second session with the same external id, and an unknown parent", async () => {
    await sessions.create({ externalId: "dup" });
    await expect(sessions.create({ externalId: "dup" })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(sessions.create({ parentSessionId: "00000000-0000-4000-8000-000000000000" })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("parent session") as unknown,
    });
    await expect(sessions.get({ id: "00000000-0000-4000-8000-000000000001" })).rejects.toBeInstanceOf(AppError);
  });

  it("answers CONFLICT for an id that is taken, and for external ids raced by concurrent creates", async () => {
    const first = await sessions.create({});
    await expect(sessions.create({ id: first.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: `a session with id ${first.id} already exists`,
      details: { id: first.id },
    });
    // Enough creates at once that some pass the external id check before the first commits.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, () => sessions.create({ externalId: "raced" })),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toBeInstanceOf(AppError);
        expect(outcome.reason).toMatchObject({
          code: "CONFLICT",
          message: expect.stringMatching(/^a session with external id raced already exists/) as unknown,
        });
      }
    }
  });

  it("says which id was not found: the id, or the external id", async () => {
    await expect(sessions.get({ id: "00000000-0000-4000-8000-000000000002" })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: "session 00000000-0000-4000-8000-000000000002 was not found",
      details: { id: "00000000-0000-4000-8000-000000000002" },
    });
    await expect(sessions.get({ externalId: "nowhere" })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: "session with external id nowhere was not found",
      details: { externalId: "nowhere" },
    });
  });

  it("enforces the lifecycle: allowed moves set times, invalid ones name both states", async () => {
    const s = await sessions.create({});
    const active = await sessions.transition({ id: s.id, to: "active" });
    expect(active.startedAt).not.toBeNull();
    expect(active.isWorking).toBe(true);
    const done = await sessions.transition({ id: s.id, to: "completed", result: { ok: true } });
    expect(done.endedAt).not.toBeNull();
    expect(done.result).toEqual({ ok: true });
    expect(done.isWorking).toBe(false);
    // An ended session is not working: the flag is refused until a resume, other fields are not.
    await expect(sessions.update({ id: s.id, isWorking: true })).rejects.toMatchObject({
      code: "INVALID_INPUT",
      message: `session ${s.id} has ended (completed): it cannot be working until it is resumed (a SessionStart or UserPromptSubmit hook, or a session_resumed event)`,
    });
    expect((await sessions.get({ id: s.id })).isWorking).toBe(false);
    expect((await sessions.update({ id: s.id, isWorking: false, label: "done" })).label).toBe("done");
    await expect(sessions.transition({ id: s.id, to: "active" })).rejects.toMatchObject({
      code: "INVALID_TRANSITION",
      message: expect.stringMatching(/from completed to active/) as unknown,
    });
  });

  it("updates flags and merges metadata", async () => {
    const s = await sessions.create({ metadata: { a: 1, b: 2 } });
    const updated = await sessions.update({ id: s.id, pinned: true, label: "look", metadata: { b: null, c: 3 } });
    expect(updated.pinned).toBe(true);
    expect(updated.label).toBe("look");
    expect(updated.metadata).toEqual({ a: 1, c: 3 });
    await expect(sessions.update({ id: s.id, manualParentSessionId: s.id })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
  });

  it("refuses a manual parent below the session in its tree (a loop), by either link", async () => {
    const a = await sessions.create({ title: "a" });
    const b = await sessions.create({ parentSessionId: a.id, title: "b" });
    const c = await sessions.create({ title: "c" });
    // b is a's child by its parent link: a under b would loop.
    await expect(sessions.update({ id: a.id, manualParentSessionId: b.id })).rejects.toMatchObject({
      code: "INVALID_INPUT",
      message: `session ${b.id} is below this session in its tree: as its parent it would make a loop`,
    });
    // c under b by a manual link, then b under c would loop through it.
    await sessions.update({ id: c.id, manualParentSessionId: b.id });
    await expect(sessions.update({ id: b.id, manualParentSessionId: c.id })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
    // Elsewhere in the tree is fine: c moves under a, and back to no manual parent.
    expect((await sessions.update({ id: c.id, manualParentSessionId: a.id })).manualParentSessionId).toBe(a.id);
    expect((await sessions.update({ id: c.id, manualParentSessionId: null })).manualParentSessionId).toBeNull();
  });

  it("returns ancestors, descendants and tokens rolled up over the tree", async () => {
    const root = await sessions.create({ title: "root" });
    const child = await sessions.create({ parentSessionId: root.id, title: "child" });
    const grandchild = await sessions.create({ parentSessionId: child.id, title: "grandchild" });
    await sessions.create({ parentSessionId: root.id, title: "sibling" });
    await db
      .knex("sessions")
      .where({ id: grandchild.id })
      .update({ input_tokens: 10, output_tokens: 5, cost_usd: 0.25 });
    await db.knex("sessions").where({ id: root.id }).update({ input_tokens: 1 });

    const fromChild = await sessions.tree({ id: child.id, maxDepth: 20 });
    expect(fromChild.ancestors.map((s) => s.title)).toEqual(["root"]);
    expect(fromChild.descendants.map((n) => [n.session.title, n.depth])).toEqual([["grandchild", 1]]);

    const fromRoot = await sessions.tree({ id: root.id, maxDepth: 20 });
    expect(fromRoot.descendants.map((n) => n.session.title).sort()).toEqual(["child", "grandchild", "sibling"]);
    expect(fromRoot.totalTokens).toMatchObject({ inputTokens: 11, outputTokens: 5, costUsd: 0.25 });
    const shallow = await sessions.tree({ id: root.id, maxDepth: 1 });
    expect(shallow.descendants.map((n) => n.session.title).sort()).toEqual(["child", "sibling"]);
  });

  it("archives a subtree, hides it from the default list, and deletes a subtree with its events", async () => {
    const root = await sessions.create({ title: "to-archive" });
    const child = await sessions.create({ parentSessionId: root.id });
    await events.ingest({
      events: [{ sessionId: child.id, eventType: "note", source: "api", level: "info", payload: {} }],
    });
    const archived = await sessions.setArchived({ id: root.id, archived: true });
    expect(archived.archivedAt).not.toBeNull();
    expect((await sessions.get({ id: child.id })).archivedAt).not.toBeNull();
    const visible = await sessions.list(listSessionsInput.parse({ search: "to-archive" }));
    expect(visible.items).toHaveLength(0);
    const onlyArchived = await sessions.list(listSessionsInput.parse({ search: "to-archive", archived: true }));
    expect(onlyArchived.items.map((s) => s.id)).toEqual([root.id]);

    expect(await sessions.delete({ id: root.id })).toEqual({ deleted: 2 });
    await expect(sessions.get({ id: child.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const [{ count }] = (await db.knex("events").where({ session_id: child.id }).count({ count: "*" })) as [
      { count: string },
    ];
    expect(Number(count)).toBe(0);
  });

  it("lists with filters and keyset pages that neither skip nor repeat", async () => {
    const fresh = await createTestDatabase();
    try {
      const svc = new SessionService({ knex: fresh.knex });
      const made: string[] = [];
      for (let i = 0; i < 25; i++) {
        const s = await svc.create({
          title: `job ${i % 2 === 0 ? "even" : "odd"} ${i}`,
          machineId: i < 5 ? "m1" : "m2",
        });
        made.push(s.id);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await svc.list(listSessionsInput.parse({ limit: 7, ...(cursor ? { cursor } : {}) }));
        seen.push(...page.items.map((s) => s.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toHaveLength(25);
      expect(new Set(seen)).toEqual(new Set(made));
      expect((await svc.list(listSessionsInput.parse({ machineId: "m1" }))).items).toHaveLength(5);
      expect((await svc.list(listSessionsInput.parse({ search: "even" }))).items).toHaveLength(13);
      expect((await svc.list(listSessionsInput.parse({ search: "100%" }))).items).toHaveLength(0);
      await expect(svc.list(listSessionsInput.parse({ cursor: "garbage" }))).rejects.toMatchObject({
        code: "INVALID_INPUT",
      });
      // Rows microseconds apart (database defaults keep them) neither vanish nor repeat across pages.
      const close = ["2030-01-01T00:00:00.123456Z", "2030-01-01T00:00:00.123789Z", "2030-01-01T00:00:00.123001Z"];
      const ids: string[] = [];
      for (const at of close) {
        const [row] = await fresh
          .knex("sessions")
          .insert({ created_at: at, title: "close" })
          .returning<Array<{ id: string }>>("id");
        ids.push(expectDefined(row).id);
      }
      const paged: string[] = [];
      let next: string | undefined;
      do {
        const page = await svc.list(
          listSessionsInput.parse({ sort: "created", search: "close", limit: 1, ...(next ? { cursor: next } : {}) }),
        );
        paged.push(...page.items.map((s) => s.id));
        next = page.nextCursor ?? undefined;
      } while (next);
      expect(paged).toEqual([ids[1], ids[0], ids[2]]);
    } finally {
      await fresh.destroy();
    }
  });
});
