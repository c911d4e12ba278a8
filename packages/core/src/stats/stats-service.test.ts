import { randomUUID } from "node:crypto";

import {
  session as sessionContract,
  activeSessionsOutput,
  overviewOutput,
  tokenTotalsInput,
  tokenTotalsOutput,
  toolUsageOutput,
} from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
// Brings in the `inject()` keys that @logbook/db/testing reads (declared beside its global setup).
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AppError } from "../errors.js";
import { StatsService } from "./stats-service.js";

const NOW = new Date("2026-06-01T12:00:00Z");
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000);

let db: TestDatabase;
let stats: StatsService;

async function insertSession(fields: Record<string, unknown> = {}): Promise<string> {
  const id = randomUUID();
  await db.knex("sessions").insert({ id, status: "active", ...fields });
  return id;
}

let seq = 0;
async function insertEvent(sessionId: string, fields: Record<string, unknown> = {}): Promise<string> {
  const id = randomUUID();
  seq += 1;
  await db.knex("events").insert({
    id,
    session_id: sessionId,
    seq,
    event_type: "PreToolUse",
    source: "hook",
    occurred_at: ago(60),
    ...fields,
  });
  return id;
}

/** Each block gets its own database, so its counts see only its own rows. */
function useDatabase(): void {
  let local: TestDatabase;
  beforeAll(async () => {
    local = await createTestDatabase();
    db = local;
    stats = new StatsService({ knex: local.knex, now: () => NOW });
  });
  afterAll(() => local.destroy());
}

describe("StatsService.activeSessions", () => {
  useDatabase();
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ids.a = await insertSession({ title: "a", started_at: ago(100), created_at: ago(200), last_activity_at: ago(1) });
    ids.b = await insertSession({ title: "b", status: "idle", created_at: ago(50), last_activity_at: ago(5) });
    ids.hidden = await insertSession({ title: "hidden", hidden: true, started_at: ago(10), last_activity_at: ago(2) });
    ids.archived = await insertSession({ title: "archived", archived_at: ago(3), last_activity_at: ago(3) });
    ids.done = await insertSession({ title: "done", status: "completed", ended_at: ago(4), last_activity_at: ago(4) });
    ids.child = await insertSession({
      title: "child",
      status: "waiting_input",
      parent_session_id: ids.a,
      started_at: ago(30),
      last_activity_at: ago(7),
    });
    await insertSession({ title: "done child", status: "failed", parent_session_id: ids.a, last_activity_at: ago(8) });
    for (let i = 0; i < 3; i += 1) await insertEvent(ids.a);
    await insertEvent(ids.child);
  });

  it("lists open, unarchived, visible sessions, most recently active first, with metrics", async () => {
    const result = await stats.activeSessions({ limit: 100, includeHidden: false });
    expect(activeSessionsOutput.parse(result)).toEqual(result);
    expect(result.map((r) => r.session.title)).toEqual(["a", "b", "child"]);
    const [a, b, child] = result;
    expect(a).toMatchObject({ eventCount: 3, childCount: 2, durationSeconds: 100 });
    expect(a?.session.id).toBe(ids.a);
    // No start time: measured from creation.
    expect(b).toMatchObject({ eventCount: 0, childCount: 0, durationSeconds: 50 });
    expect(child).toMatchObject({ eventCount: 1, childCount: 0, durationSeconds: 30 });
  });

  it("includes hidden sessions when asked and honours the limit", async () => {
    const all = await stats.activeSessions({ limit: 100, includeHidden: true });
    expect(all.map((r) => r.session.title)).toEqual(["a", "hidden", "b", "child"]);
    const two = await stats.activeSessions({ limit: 2, includeHidden: true });
    expect(two.map((r) => r.session.title)).toEqual(["a", "hidden"]);
  });

  it("returns only the session DTO's fields (no internal columns)", async () => {
    const [first] = await stats.activeSessions({ limit: 1, includeHidden: false });
    expect(first?.session).not.toHaveProperty("lastEventSeq");
    expect(Object.keys(first?.session ?? {}).sort()).toEqual(Object.keys(sessionContract.shape).sort());
  });
});

describe("StatsService events and tools", () => {
  let projectA: string;
  let projectB: string;
  let s1: string;
  let s2: string;
  let s3: string;

  useDatabase();
  beforeAll(async () => {
    const local = db;
    [projectA, projectB] = [randomUUID(), randomUUID()];
    await local.knex("projects").insert([
      { id: projectA, path: "/p/a" },
      { id: projectB, path: "/p/b" },
    ]);
    s1 = await insertSession({ project_id: projectA });
    s2 = await insertSession({ project_id: projectB });
    s3 = await insertSession({});
    const t = (iso: string) => new Date(iso);
    // s1: Bash called twice (one failed), Read once; plus a prompt.
    await insertEvent(s1, {
      event_type: "PreToolUse",
      tool_name: "Bash",
      tool_use_id: "tu1",
      occurred_at: t("2026-05-01T10:00:00Z"),
    });
    await insertEvent(s1, {
      event_type: "PostToolUse",
      tool_name: "Bash",
      tool_use_id: "tu1",
      occurred_at: t("2026-05-01T10:00:01Z"),
    });
    await insertEvent(s1, {
      event_type: "PreToolUse",
      tool_name: "Bash",
      tool_use_id: "tu2",
      occurred_at: t("2026-05-01T10:00:02Z"),
    });
    await insertEvent(s1, {
      event_type: "PostToolUseFailure",
      tool_name: "Bash",
      tool_use_id: "tu2",
      level: "error",
      occurred_at: t("2026-05-01T10:00:03Z"),
    });
    await insertEvent(s1, {
      event_type: "PreToolUse",
      tool_name: "Read",
      tool_use_id: "tu3",
      occurred_at: t("2026-05-01T10:00:04Z"),
    });
    await insertEvent(s1, { event_type: "UserPromptSubmit", occurred_at: t("2026-05-01T09:59:00Z") });
    // s2 (other project): the same tool_use_id as in s1 is a different call; one Read
    // without tool_use_id (an older hook) failed by level only.
    await insertEvent(s2, {
      event_type: "PreToolUse",
      tool_name: "Bash",
      tool_use_id: "tu1",
      occurred_at: t("2026-05-02T10:00:00Z"),
    });
    await insertEvent(s2, {
      event_type: "PostToolUse",
      tool_name: "Read",
      level: "error",
      occurred_at: t("2026-05-02T10:00:01Z"),
    });
    // s3 (no project), later.
    await insertEvent(s3, {
      event_type: "PreToolUse",
      tool_name: "Edit",
      tool_use_id: "tu9",
      occurred_at: t("2026-05-03T10:00:00Z"),
    });
    await insertEvent(s3, { event_type: "Stop", occurred_at: t("2026-05-03T10:00:05Z") });
  });

  it("counts events by type, most frequent first", async () => {
    expect(await stats.eventCounts({})).toEqual([
      { eventType: "PreToolUse", count: 5 },
      { eventType: "PostToolUse", count: 2 },
      { eventType: "PostToolUseFailure", count: 1 },
      { eventType: "Stop", count: 1 },
      { eventType: "UserPromptSubmit", count: 1 },
    ]);
  });

  it("filters event counts by half-open time range, project and session", async () => {
    expect(await stats.eventCounts({ from: "2026-05-02T00:00:00Z", to: "2026-05-03T10:00:05Z" })).toEqual([
      { eventType: "PreToolUse", count: 2 },
      { eventType: "PostToolUse", count: 1 },
    ]);
    expect(await stats.eventCounts({ projectId: projectB })).toEqual([
      { eventType: "PostToolUse", count: 1 },
      { eventType: "PreToolUse", count: 1 },
    ]);
    expect(await stats.eventCounts({ sessionId: s3 })).toEqual([
      { eventType: "PreToolUse", count: 1 },
      { eventType: "Stop", count: 1 },
    ]);
  });

  it("says NOT_FOUND for a session or project filter that names none, and [] for one with nothing in range", async () => {
    const missing = "0190a000-0000-7000-8000-00000000dead";
    for (const report of [
      () => stats.eventCounts({ sessionId: missing }),
      () => stats.toolUsage({ sessionId: missing }),
      () => stats.tokenTotals({ sessionId: missing, groupBy: "session", limit: 10 }),
    ]) {
      await expect(report()).rejects.toMatchObject({ code: "NOT_FOUND", message: `session ${missing} was not found` });
    }
    await expect(stats.eventCounts({ projectId: missing })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: `project ${missing} was not found`,
    });
    // Known, with nothing in the range: an empty answer, not an error.
    expect(await stats.eventCounts({ sessionId: s3, from: "2030-01-01T00:00:00Z" })).toEqual([]);
    expect(await stats.toolUsage({ projectId: projectB, from: "2030-01-01T00:00:00Z" })).toEqual([]);
  });

  it("rejects a range whose start is after its end", async () => {
    await expect(stats.eventCounts({ from: "2026-05-03T00:00:00Z", to: "2026-05-01T00:00:00Z" })).rejects.toMatchObject(
      {
        code: "INVALID_INPUT",
      },
    );
    await expect(stats.toolUsage({ from: "2026-05-03T00:00:00Z", to: "2026-05-01T00:00:00Z" })).rejects.toBeInstanceOf(
      AppError,
    );
  });

  it("counts tool calls once per tool_use_id per session, with failures", async () => {
    const usage = await stats.toolUsage({});
    expect(toolUsageOutput.parse(usage)).toEqual(usage);
    expect(usage).toEqual([
      { toolName: "Bash", count: 3, failures: 1 },
      { toolName: "Read", count: 2, failures: 1 },
      { toolName: "Edit", count: 1, failures: 0 },
    ]);
    expect(await stats.toolUsage({ projectId: projectA })).toEqual([
      { toolName: "Bash", count: 2, failures: 1 },
      { toolName: "Read", count: 1, failures: 0 },
    ]);
    expect(await stats.toolUsage({ to: "2026-05-01T10:00:02Z" })).toEqual([
      { toolName: "Bash", count: 1, failures: 0 },
    ]);
  });
});

describe("StatsService tokens and overview", () => {
  let projectA: string;
  const s: Record<string, string> = {};

  useDatabase();
  beforeAll(async () => {
    const local = db;
    projectA = randomUUID();
    await local.knex("projects").insert({ id: projectA, path: "/p/a" });
    const tokens = (i: number, o: number, cr: number, cc: number, cost: number) => ({
      input_tokens: i,
      output_tokens: o,
      cache_read_tokens: cr,
      cache_creation_tokens: cc,
      cost_usd: cost,
    });
    // 23:30 in New York on the 1st is the 2nd in UTC: days are UTC days.
    s.one = await insertSession({
      project_id: projectA,
      machine_id: "m1",
      last_activity_at: new Date("2026-05-01T23:30:00-04:00"),
      ...tokens(100, 10, 5, 1, 0.5),
    });
    s.two = await insertSession({
      project_id: projectA,
      machine_id: "m1",
      status: "completed",
      last_activity_at: new Date("2026-05-02T08:00:00Z"),
      ...tokens(200, 20, 0, 0, 1.25),
    });
    s.three = await insertSession({
      machine_id: "m2",
      status: "idle",
      last_activity_at: new Date("2026-05-03T08:00:00Z"),
      ...tokens(1, 2, 3, 4, 0.001),
    });
    s.four = await insertSession({ status: "failed", last_activity_at: new Date("2026-04-30T08:00:00Z") });
    await insertEvent(s.one);
    await insertEvent(s.three);
  });

  it("groups token totals by session, most expensive first", async () => {
    const rows = await stats.tokenTotals(tokenTotalsInput.parse({ groupBy: "session" }));
    expect(tokenTotalsOutput.parse(rows)).toEqual(rows);
    expect(rows.map((r) => r.key)).toEqual([s.two, s.one, s.three, s.four]);
    expect(rows[1]).toEqual({
      key: s.one,
      sessions: 1,
      inputTokens: 100,
      outputTokens: 10,
      cacheReadTokens: 5,
      cacheCreationTokens: 1,
      costUsd: 0.5,
      unpricedMessages: 0,
    });
    expect(await stats.tokenTotals({ groupBy: "session", limit: 1 })).toHaveLength(1);
    expect(
      (await stats.tokenTotals(tokenTotalsInput.parse({ groupBy: "session", sessionId: s.three }))).map((r) => r.key),
    ).toEqual([s.three]);
  });

  it("groups token totals by project, with `none` for sessions without one", async () => {
    expect(await stats.tokenTotals(tokenTotalsInput.parse({ groupBy: "project" }))).toEqual([
      {
        key: projectA,
        sessions: 2,
        inputTokens: 300,
        outputTokens: 30,
        cacheReadTokens: 5,
        cacheCreationTokens: 1,
        costUsd: 1.75,
        unpricedMessages: 0,
      },
      {
        key: "none",
        sessions: 2,
        inputTokens: 1,
        outputTokens: 2,
        cacheReadTokens: 3,
        cacheCreationTokens: 4,
        costUsd: 0.001,
        unpricedMessages: 0,
      },
    ]);
  });

  it("groups token totals by UTC day of last activity, newest first, within the range", async () => {
    const days = await stats.tokenTotals(tokenTotalsInput.parse({ groupBy: "day" }));
    expect(days.map((r) => [r.key, r.sessions, r.inputTokens])).toEqual([
      ["2026-05-03", 1, 1],
      ["2026-05-02", 2, 300],
      ["2026-04-30", 1, 0],
    ]);
    const ranged = await stats.tokenTotals(
      tokenTotalsInput.parse({
        groupBy: "day",
        from: "2026-05-02T00:00:00Z",
        to: "2026-05-03T08:00:00Z",
      }),
    );
    expect(ranged.map((r) => [r.key, r.sessions])).toEqual([["2026-05-02", 2]]);
    const byProject = await stats.tokenTotals(tokenTotalsInput.parse({ groupBy: "day", projectId: projectA }));
    expect(byProject.map((r) => [r.key, r.sessions])).toEqual([["2026-05-02", 2]]);
  });

  it("gives an overview: statuses, totals, machines and tokens", async () => {
    const overview = await stats.overview();
    expect(overviewOutput.parse(overview)).toEqual(overview);
    expect(overview.sessionsByStatus).toEqual({ active: 1, completed: 1, idle: 1, failed: 1 });
    expect(overview.totalSessions).toBe(4);
    expect(overview.totalEvents).toBe(2);
    expect(overview.machines).toEqual([
      { machineId: "m2", sessions: 1, lastActivityAt: "2026-05-03T08:00:00.000Z" },
      { machineId: "m1", sessions: 2, lastActivityAt: "2026-05-02T08:00:00.000Z" },
    ]);
    expect(overview.tokens).toEqual({
      inputTokens: 301,
      outputTokens: 32,
      cacheReadTokens: 8,
      cacheCreationTokens: 5,
      costUsd: 1.751,
      unpricedMessages: 0,
    });
  });
});
