import { subagentExternalId } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { hookFixtures } from "@logbook/fixtures";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { SessionService } from "../sessions/session-service.js";
import { checkConcurrentSinglePosts, checkStoresEveryPayload } from "./hook-service.checks.js";
import { HookService } from "./hook-service.js";

const at = (second: number) => new Date(Date.UTC(2026, 10, 1, 12, 0, second)).toISOString();

describe("HookService", () => {
  let db: TestDatabase;
  let hooks: HookService;
  let sessions: SessionService;
  beforeAll(async () => {
    db = await createTestDatabase();
    hooks = new HookService({ knex: db.knex });
    sessions = new SessionService({ knex: db.knex });
  });
  afterAll(async () => db.destroy());

  const count = async (table: string, where: Record<string, unknown> = {}) =>
    Number(((await db.knex(table).where(where).count({ n: "*" })) as [{ n: string }])[0].n);

  it("stores every fixture payload whole and derives sessions and child sessions", async () => {
    await checkStoresEveryPayload(hookFixtures());
  });

  it("takes every fixture payload as concurrent single posts (group commit) without a lost or refused event", async () => {
    await checkConcurrentSinglePosts(hookFixtures());
  });

  it("follows a session's life and is not dragged back by late or repeated events", async () => {
    const sid = "life-1";
    const send = (second: number, payload: Record<string, unknown>, id = uuidv7()) =>
      hooks.ingestPayload({ session_id: sid, cwd: "/w", ...payload }, { id, occurredAt: at(second) });

    await send(1, { hook_event_name: "SessionStart", source: "startup", model: "claude-x" });
    expect((await sessions.get({ externalId: sid })).status).toBe("active");
    await send(2, { hook_event_name: "UserPromptSubmit", prompt: "add tests" });
    await send(5, { hook_event_name: "Notification", message: "Claude needs your permission to use Bash" });
    expect((await sessions.get({ externalId: sid })).status).toBe("waiting_input");
    const stopId = uuidv7();
    await send(8, { hook_event_name: "Stop", stop_hook_active: false }, stopId);
    // A PreToolUse from before the Stop arrives late: state stays idle.
    await send(6, { hook_event_name: "PreToolUse", tool_name: "Bash" });
    let s = await sessions.get({ externalId: sid });
    expect(s.status).toBe("idle");
    expect(s.initialQuery).toBe("add tests");
    expect(s.model).toBe("claude-x");
    // The same Stop again is a duplicate.
    expect(await send(8, { hook_event_name: "Stop", stop_hook_active: false }, stopId)).toMatchObject({
      duplicates: 1,
    });

    await send(20, { hook_event_name: "SessionEnd", reason: "prompt_input_exit" });
    s = await sessions.get({ externalId: sid });
    expect(s.status).toBe("completed");
    expect(s.statusReason).toBe("session_end: prompt_input_exit");
    expect(s.endedAt).toBe(at(20));
    // Out-of-order after the end: nothing reopens the session except a newer resume.
    await send(19, { hook_event_name: "UserPromptSubmit", prompt: "late" });
    expect((await sessions.get({ externalId: sid })).status).toBe("completed");
    await send(30, { hook_event_name: "SessionStart", source: "resume" });
    s = await sessions.get({ externalId: sid });
    expect(s.status).toBe("active");
    expect(s.statusReason).toBeNull();
    expect(s.endedAt).toBeNull();
  });

  it("gives the same end state whatever order the events arrive in", async () => {
    const life = [
      { hook_event_name: "SessionStart", source: "startup" },
      { hook_event_name: "UserPromptSubmit", prompt: "go" },
      { hook_event_name: "PreToolUse", tool_name: "Read" },
      { hook_event_name: "SubagentStart", agent_id: "a1", agent_type: "explore" },
      { hook_event_name: "PreToolUse", tool_name: "Grep", agent_id: "a1", agent_type: "explore" },
      { hook_event_name: "SubagentStop", agent_id: "a1", agent_type: "explore", last_assistant_message: "found it" },
      { hook_event_name: "Stop", last_assistant_message: "done" },
      { hook_event_name: "SessionEnd", reason: "other" },
    ];
    const orders = [life.map((_, i) => i), life.map((_, i) => life.length - 1 - i), [3, 7, 0, 5, 1, 6, 2, 4]];
    for (const [n, order] of orders.entries()) {
      const sid = `order-${n}`;
      for (const i of order) {
        await hooks.ingestPayload({ session_id: sid, ...expectDefined(life[i]) }, { id: uuidv7(), occurredAt: at(i) });
      }
      const main = await sessions.get({ externalId: sid });
      const child = await sessions.get({ externalId: subagentExternalId(sid, "a1") });
      expect([main.status, main.statusReason, child.status, child.agentType, child.parentSessionId]).toEqual([
        "terminated",
        "session_end: other",
        "completed",
        "explore",
        main.id,
      ]);
      expect(main.initialQuery).toBe("go");
    }
  });

  it("commits concurrent single posts in groups, and one the database refuses fails alone", async () => {
    const before = await count("events", { event_type: "GroupTest" });
    const posts = Array.from({ length: 40 }, (_, i) =>
      hooks.ingestPayload(
        // One subagent id so long that the session's external id breaks its length rule.
        i === 17
          ? { session_id: "group", hook_event_name: "GroupTest", agent_id: "x".repeat(255) }
          : { session_id: "group", hook_event_name: "GroupTest", n: i },
        { id: uuidv7() },
      ),
    );
    const results = await Promise.allSettled(posts);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
    // The raw check violation; the API maps it to INVALID_INPUT (toAppError).
    expect(results[17]).toMatchObject({ status: "rejected", reason: { code: "23514" } });
    expect(await count("events", { event_type: "GroupTest" })).toBe(before + 39);
    const seqs = await db.knex("events").where({ event_type: "GroupTest" }).select<Array<{ seq: number }>>("seq");
    expect(new Set(seqs.map((r) => r.seq)).size).toBe(39);
  });

  it("stores unknown hook events as they are, and refuses what is not a hook payload", async () => {
    await hooks.ingestPayload({ session_id: "future", hook_event_name: "WorktreeCreate", brand_new: { x: [1, 2] } });
    const row = (await db.knex("events").where({ event_type: "WorktreeCreate" }).first()) as { payload: unknown };
    expect(row.payload).toMatchObject({ brand_new: { x: [1, 2] } });
    await expect(hooks.ingestPayload([1, 2])).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(hooks.ingestPayload({ hook_event_name: "Stop" })).rejects.toMatchObject({
      code: "INVALID_INPUT",
      message: expect.stringContaining("session_id") as unknown,
    });
    await expect(
      hooks.ingestPayload({ session_id: "x", hook_event_name: "'; drop table events; --" }),
    ).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
    const before = await count("events");
    await expect(
      hooks.ingest({ events: [{ payload: { session_id: "ok", hook_event_name: "Stop" } }, { payload: "nope" }] }),
    ).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("events[1]") as unknown });
    expect(await count("events")).toBe(before);
  });
});
