/**
 * The one-call ingest (`ingest-fast-path.ts`) into sessions the server knows or has never
 * seen: one statement, the same stored and derived result as the ordinary pipeline (a
 * server built with `oneCallIngest: false`), and the ordinary pipeline whenever the database
 * is not in the state the server remembers.
 */
import { createKnex, defaultPoolSettings } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { subagentExternalId } from "@logbook/contracts";

import { AppError } from "../errors.js";
import { HookService } from "../hooks/hook-service.js";
import { EventService } from "./event-service.js";

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

  /**
   * What a session ends as: its row (without ids and bookkeeping times; its project and
   * parent by what they are, not by id), events and messages. `payloadSession`: the
   * `session_id` its payloads carry (a subagent's are its parent's).
   */
  async function outcome(externalId: string, payloadSession = externalId) {
    const row = expectDefined(
      (await db.knex("sessions").where({ external_id: externalId }).first()) as Record<string, unknown> | undefined,
    );
    const { id, external_id, created_at, updated_at, project_id, parent_session_id, ...own } = row;
    const project = await db
      .knex<{ path: string; name: string }>("projects")
      .where("id", project_id as string | null)
      .first("path", "name");
    const parent = (await db.knex("sessions").where({ id: parent_session_id }).first("external_id")) as unknown;
    // A project set aside (`setProjectAside`) by its path as made.
    const state = { ...own, project: project && { ...project, path: project.path.replace(/#.*$/, "") }, parent };
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
      expect(session_id).toBe(payloadSession);
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

  /** A project made by one life is not the other's: renamed away, the next life creates its own. */
  const setProjectAside = (externalId: string) =>
    db
      .knex("projects")
      .whereIn("id", db.knex("sessions").where({ external_id: externalId }).select("project_id"))
      .update({ path: db.knex.raw("path || '#' || ?", [externalId]) });

  it("stores and derives exactly what the ordinary pipeline does, in one statement per post, the first too", async () => {
    const oneCall = new HookService({ knex: db.knex });
    const sent: number[] = [];
    for (const [second, payload] of LIFE)
      sent.push(await statements(() => post(oneCall, "fast-life", second, payload)));
    // The first post creates the session and its project in the same one call.
    expect(sent).toEqual(LIFE.map(() => 1));
    await setProjectAside("fast-life");

    const ordinary = new HookService({ knex: db.knex, oneCallIngest: false });
    for (const [second, payload] of LIFE) await post(ordinary, "slow-life", second, payload);

    const fast = await outcome("fast-life");
    expect(fast).toEqual(await outcome("slow-life"));
    expect(fast.state).toMatchObject({
      status: "completed",
      title: "Build fix",
      initial_query: "fix the build",
      project: { path: "/work/app", name: "app" },
    });
  });

  it("creates a subagent's session under its known parent in one call, as the ordinary pipeline does", async () => {
    const agent = { agent_id: "ag-1", agent_type: "Explore" };
    const childLife: Array<[number, Record<string, unknown>]> = [
      [3, { hook_event_name: "PreToolUse", tool_name: "Grep", tool_use_id: "tu-c1", ...agent }],
      [4, { hook_event_name: "PostToolUse", tool_name: "Grep", tool_use_id: "tu-c1", ...agent }],
      [5, { hook_event_name: "SubagentStop", stop_hook_active: false, ...agent }],
    ];
    const lives = [
      ["fast-parent", new HookService({ knex: db.knex })],
      ["slow-parent", new HookService({ knex: db.knex, oneCallIngest: false })],
    ] as const;
    const sent: number[] = [];
    for (const [parent, hooks] of lives) {
      await post(hooks, parent, 1, { hook_event_name: "SessionStart", source: "startup" });
      for (const [second, payload] of childLife) {
        const n = await statements(() => post(hooks, parent, second, payload));
        if (parent === "fast-parent") sent.push(n);
      }
      await setProjectAside(parent);
    }
    expect(sent).toEqual(childLife.map(() => 1));
    const fast = await outcome(subagentExternalId("fast-parent", "ag-1"), "fast-parent");
    const slow = await outcome(subagentExternalId("slow-parent", "ag-1"), "slow-parent");
    expect({ ...fast, state: { ...fast.state, parent: null } }).toEqual({
      ...slow,
      state: { ...slow.state, parent: null },
    });
    expect(fast.state).toMatchObject({
      parent: { external_id: "fast-parent" },
      session_type: "subagent",
      agent_id: "ag-1",
      agent_type: "Explore",
      is_user_initiated: false,
    });
  });

  it("creates every new session of a batch in one call, as the ordinary pipeline does", async () => {
    const batch = (prefix: string) =>
      ["b", "a", "c"].flatMap((name, n) =>
        LIFE.slice(0, 4).map(([second, payload]) => ({
          id: uuidv7(),
          occurredAt: at(second + n),
          externalSessionId: `${prefix}-${name}`,
          eventType: String(payload.hook_event_name),
          source: "hook" as const,
          level: "info" as const,
          cwd: `/work/${name}`,
          payload: { session_id: `${prefix}-${name}`, cwd: `/work/${name}`, ...payload },
        })),
      );
    const n = await statements(() => new EventService({ knex: db.knex }).ingest({ events: batch("fast-batch") }));
    expect(n).toBe(1);
    for (const name of ["a", "b", "c"]) await setProjectAside(`fast-batch-${name}`);
    await new EventService({ knex: db.knex, oneCallIngest: false }).ingest({ events: batch("slow-batch") });
    for (const name of ["a", "b", "c"]) {
      const fast = await outcome(`fast-batch-${name}`);
      expect(fast).toEqual(await outcome(`slow-batch-${name}`));
      expect(fast.state).toMatchObject({ status: "active", project: { path: `/work/${name}`, name } });
    }
  });

  it("takes the ordinary pipeline when a session it has never seen was created by another replica", async () => {
    const here = new HookService({ knex: db.knex });
    const elsewhere = new HookService({ knex: db.knex });
    await post(elsewhere, "made-elsewhere", 1, { hook_event_name: "SessionStart", source: "startup" });
    await post(here, "made-elsewhere", 2, { hook_event_name: "UserPromptSubmit", prompt: "hello" });
    await post(here, "made-elsewhere", 3, { hook_event_name: "Stop", stop_hook_active: false });
    const { state, events } = await outcome("made-elsewhere");
    expect(state).toMatchObject({ initial_query: "hello", status: "idle" });
    expect(events.map((e) => Number(e.seq))).toEqual([1, 2, 3]);
    expect(await db.knex("sessions").where({ external_id: "made-elsewhere" }).select("id")).toHaveLength(1);
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

  it("keeps a column another replica derived that the state check does not compare (it is no input)", async () => {
    // The check compares what derivation reads (status, times, first prompt, title, cwd,
    // project, parent). A column it only writes, like the model, changed elsewhere meanwhile
    // is kept: the call sets only the columns its own events change, as the ordinary update does.
    const here = new HookService({ knex: db.knex });
    const elsewhere = new HookService({ knex: db.knex });
    await post(here, "model-elsewhere", 2, { hook_event_name: "SessionStart", source: "startup", model: "claude-x" });
    // Late (older than the start): it changes the model and nothing the check compares.
    await post(elsewhere, "model-elsewhere", 1, { hook_event_name: "PostModelSwitch", to_model: "claude-y" });
    const n = await statements(() =>
      post(here, "model-elsewhere", 3, { hook_event_name: "UserPromptSubmit", prompt: "go on" }),
    );
    expect(n).toBe(1); // the one call, not the fallback
    const { state } = await outcome("model-elsewhere");
    expect(state).toMatchObject({ model: "claude-y", initial_query: "go on", status: "active" });
  });

  it("sends a group into sessions with a call in flight after that call, so concurrent posts never fall back", async () => {
    // Posts made at once form several groups in flight (group commit); two calls into one
    // session on two connections could reach the database in either order, and the one
    // sent second, arriving first, would fail its check and take the ordinary pipeline.
    const hooks = new HookService({ knex: db.knex });
    const sids = ["busy-a", "busy-b"];
    const n = await statements(() =>
      Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          post(hooks, expectDefined(sids[i % 2]), 1 + i, {
            hook_event_name: i < 2 ? "SessionStart" : "PreToolUse",
            tool_name: "Bash",
            tool_use_id: `tu-${i}`,
          }),
        ),
      ),
    );
    let transactions = 0;
    const countBegin = (q: { sql: string }) => {
      if (q.sql.startsWith("BEGIN")) transactions++;
    };
    db.knex.on("query", countBegin);
    try {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          post(hooks, expectDefined(sids[i % 2]), 100 + i, {
            hook_event_name: "PostToolUse",
            tool_name: "Bash",
            tool_use_id: `tu-${i}`,
          }),
        ),
      );
    } finally {
      db.knex.removeListener("query", countBegin);
    }
    expect(n).toBeLessThanOrEqual(40);
    expect(transactions).toBe(0);
    for (const sid of sids) {
      const { events } = await outcome(sid);
      expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    }
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

  it("writes each session row once per call: its seq counter and derived state in one version", async () => {
    // Every version of a sessions row is an entry in each of its indexes (the update moves
    // last_activity_at, which they carry): a trigger of this test counts the versions.
    await db.knex.raw(`
      CREATE TABLE test_session_versions (session_id uuid NOT NULL);
      CREATE FUNCTION test_count_session_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO test_session_versions VALUES (NEW.id); RETURN NULL; END $$;
      CREATE TRIGGER test_session_versions AFTER UPDATE ON sessions
        FOR EACH ROW EXECUTE FUNCTION test_count_session_version();`);
    try {
      const events = new EventService({ knex: db.knex });
      const hooks = new HookService({ knex: db.knex }, events);
      const versions = async () =>
        Number(
          ((await db.knex("test_session_versions").count({ n: "*" }).first()) as { n: number | string } | undefined)?.n,
        );
      await post(hooks, "one-version", 1, { hook_event_name: "SessionStart", source: "startup" });
      const created = await versions();
      // A post that changes status and more, one that moves only the activity time, a batch.
      expect(await statements(() => post(hooks, "one-version", 2, LIFE[1]?.[1] ?? {}))).toBe(1);
      expect(await versions()).toBe(created + 1);
      expect(await statements(() => post(hooks, "one-version", 3, LIFE[2]?.[1] ?? {}))).toBe(1);
      expect(await versions()).toBe(created + 2);
      const batch = [3, 4].map((n) => ({
        id: uuidv7(),
        occurredAt: at(n + 1),
        externalSessionId: "one-version",
        eventType: String(LIFE[n]?.[1].hook_event_name),
        source: "hook" as const,
        level: "info" as const,
        cwd: "/work/app",
        payload: { session_id: "one-version", cwd: "/work/app", ...LIFE[n]?.[1] },
      }));
      expect(await statements(() => events.ingest({ events: batch }))).toBe(1);
      expect(await versions()).toBe(created + 3);
      const { events: stored } = await outcome("one-version");
      expect(stored.map((e) => Number(e.seq))).toEqual([1, 2, 3, 4, 5]);
      const counter = await db
        .knex<{ external_id: string; last_event_seq: string }>("sessions")
        .where({ external_id: "one-version" })
        .first("last_event_seq");
      expect(Number(counter?.last_event_seq)).toBe(5);
    } finally {
      await db.knex.raw(`
        DROP TRIGGER test_session_versions ON sessions;
        DROP FUNCTION test_count_session_version();
        DROP TABLE test_session_versions;`);
    }
  });
  it("fails a call queued behind a call into its session that the database timed out, without trying it", async () => {
    // A pool whose statements give up after 300 ms, while another connection locks events.
    const knex = createKnex(db.url, { ...defaultPoolSettings, max: 4, statementTimeoutMs: 300 });
    try {
      const events = new EventService({ knex });
      const note = (n: number) => ({
        id: uuidv7(),
        occurredAt: at(n),
        externalSessionId: "queued-behind",
        eventType: "note",
        source: "api" as const,
        level: "info" as const,
        message: `n${n}`,
        payload: {},
      });
      await events.ingest({ events: [note(0)] }); // known: later calls take the one-call path
      const lock = await db.knex.transaction();
      let outcomes: Array<PromiseSettledResult<unknown>>;
      try {
        await lock.raw("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
        // Sent in one tick: the first goes to the database, the others queue behind it.
        outcomes = await Promise.allSettled([1, 2, 3, 4].map((n) => events.ingest({ events: [note(n)] })));
      } finally {
        await lock.rollback();
      }
      const [first, ...queued] = outcomes.map((o) => (o.status === "rejected" ? (o.reason as unknown) : o.value));
      expect((first as { code?: unknown }).code).toBe("57014"); // canceled by the statement timeout
      for (const reason of queued) {
        expect(reason).toBeInstanceOf(AppError);
        expect(reason).toMatchObject({
          code: "UNAVAILABLE",
          message: "the database took too long to answer, try again",
        });
      }
      // The lock gone, the session takes events again.
      expect((await events.ingest({ events: [note(5)] })).accepted).toBe(1);
      const stored = await db.knex("events").where("message", "like", "n%").orderBy("message").pluck("message");
      expect(stored).toEqual(["n0", "n5"]);
    } finally {
      await knex.destroy();
    }
  });
});
