/**
 * The one-call ingest into sessions the server knows (`ingest-fast-path.ts`): one statement,
 * the same stored and derived result as the ordinary pipeline, and the ordinary pipeline
 * whenever the database is not in the state the server remembers.
 */
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { HookService } from "../hooks/hook-service.js";

const at = (second: number) => new Date(Date.UTC(2026, 10, 2, 9, 0, second)).toISOString();

/** A session's life as Claude Code's hooks tell it, with every field derivation reads. */
const LIFE: Array<[number, Record<string, unknown>]> = [
  [1, { hook_event_name: "SessionStart", source: "startup", model: "claude-x", transcript_path: "/t/a.jsonl" }],
  [2, { hook_event_name: "UserPromptSubmit", prompt: "fix the build", permission_mode: "default" }],
  [3, { hook_event_name: "PreToolUse", tool_name: "Bash", tool_use_id: "tu-1", tool_input: { command: "ls" } }],
  [4, { hook_event_name: "PostToolUse", tool_name: "Bash", tool_use_id: "tu-1", tool_response: { ok: true } }],
  [5, { hook_event_name: "Notification", message: "Claude needs your permission to use Bash" }],
  [6, { hook_event_name: "UserPromptSubmit", prompt: "and the tests", session_title: "Build fix" }],
  [7, { hook_event_name: "CwdChanged", new_cwd: "/work/app/pkg" }],
  [8, { hook_event_name: "Stop", stop_hook_active: false, last_assistant_message: "Done." }],
  [4, { hook_event_name: "PreToolUse", tool_name: "Read", tool_use_id: "tu-late" }], // late: no step back
  [9, { hook_event_name: "PostModelSwitch", to_model: "claude-y" }],
  [10, { hook_event_name: "StopFailure", error: "rate limited" }],
  [11, { hook_event_name: "SessionEnd", reason: "prompt_input_exit" }],
];

describe("ingest into known sessions in one call", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.destroy());

  const post = (hooks: HookService, sid: string, second: number, payload: Record<string, unknown>, id = uuidv7()) =>
    hooks.ingestPayload({ session_id: sid, cwd: "/work/app", ...payload }, { id, occurredAt: at(second) });

  /** What a session ends as: its row (without ids and bookkeeping times), events and messages. */
  async function outcome(externalId: string) {
    const row = expectDefined(
      (await db.knex("sessions").where({ external_id: externalId }).first()) as Record<string, unknown> | undefined,
    );
    const { id, external_id, created_at, updated_at, ...state } = row;
    const events: Array<Record<string, unknown>> = await db
      .knex("events")
      .where({ session_id: id })
      .orderBy("seq")
      .select("seq", "event_type", "level", "message", "tool_name", "tool_use_id", "cwd", "occurred_at", "payload");
    const messages: Array<Record<string, unknown>> = await db
      .knex("session_messages")
      .where({ session_id: id })
      .orderBy("created_at")
      .select("role", "text", "model", "created_at");
    void external_id;
    void created_at;
    void updated_at;
    // The payload names its session: the one thing two sessions' identical lives differ in.
    const payloads = events.map((event): Record<string, unknown> => {
      const { session_id, ...others } = event.payload as Record<string, unknown>;
      expect(session_id).toBe(externalId);
      return { ...event, payload: others };
    });
    return { state, events: payloads, messages };
  }

  /** Counts the statements `body` sends (BEGIN and COMMIT included). */
  async function statements(body: () => Promise<unknown>): Promise<number> {
    let n = 0;
    const count = () => n++;
    db.knex.on("query", count);
    try {
      await body();
    } finally {
      db.knex.removeListener("query", count);
    }
    return n;
  }

  it("stores and derives exactly what the ordinary pipeline does, in one statement per post", async () => {
    const known = new HookService({ knex: db.knex });
    const sent: number[] = [];
    for (const [second, payload] of LIFE) sent.push(await statements(() => post(known, "fast-life", second, payload)));
    // The first post creates the session (and its project): the ordinary pipeline.
    expect(sent.slice(1)).toEqual(LIFE.slice(1).map(() => 1));

    // The same life, each post through a server that has never seen the session.
    for (const [second, payload] of LIFE) await post(new HookService({ knex: db.knex }), "slow-life", second, payload);

    const fast = await outcome("fast-life");
    expect(fast).toEqual(await outcome("slow-life"));
    expect(fast.state).toMatchObject({ status: "completed", title: "Build fix", initial_query: "fix the build" });
  });

  it("takes the ordinary pipeline when another writer changed the session since", async () => {
    const here = new HookService({ knex: db.knex });
    const elsewhere = new HookService({ knex: db.knex }); // another replica
    await post(here, "two-writers", 10, { hook_event_name: "SessionStart", source: "startup" });
    // A late prompt (older than the start) through another replica: it sets the first prompt
    // and nothing else, so only that column differs from what `here` remembers.
    await post(elsewhere, "two-writers", 5, { hook_event_name: "UserPromptSubmit", prompt: "first" });
    await post(here, "two-writers", 12, { hook_event_name: "UserPromptSubmit", prompt: "second" });
    await post(elsewhere, "two-writers", 14, { hook_event_name: "Stop", stop_hook_active: false });
    await post(here, "two-writers", 15, { hook_event_name: "UserPromptSubmit", prompt: "third" });
    const { state, events } = await outcome("two-writers");
    expect(state).toMatchObject({ initial_query: "first", status: "active" });
    expect(events.map((e) => Number(e.seq))).toEqual([1, 2, 3, 4, 5]);
  });

  it("answers a resent event as a duplicate and stores nothing twice", async () => {
    const hooks = new HookService({ knex: db.knex });
    const id = uuidv7();
    await post(hooks, "resent", 1, { hook_event_name: "SessionStart", source: "startup" });
    expect(await post(hooks, "resent", 2, { hook_event_name: "UserPromptSubmit", prompt: "hi" }, id)).toMatchObject({
      accepted: 1,
    });
    expect(await post(hooks, "resent", 2, { hook_event_name: "UserPromptSubmit", prompt: "hi" }, id)).toMatchObject({
      accepted: 0,
      duplicates: 1,
    });
    const { events, messages } = await outcome("resent");
    expect(events).toHaveLength(2);
    expect(messages.filter((m) => m.role === "user")).toHaveLength(1);
  });

  it("takes the ordinary pipeline for a session deleted since", async () => {
    const hooks = new HookService({ knex: db.knex });
    await post(hooks, "deleted", 1, { hook_event_name: "SessionStart", source: "startup" });
    await db.knex("sessions").where({ external_id: "deleted" }).delete();
    await post(hooks, "deleted", 2, { hook_event_name: "UserPromptSubmit", prompt: "again" });
    const { state, events } = await outcome("deleted");
    expect(state).toMatchObject({ initial_query: "again" });
    expect(events.map((e) => Number(e.seq))).toEqual([1]);
  });
});
