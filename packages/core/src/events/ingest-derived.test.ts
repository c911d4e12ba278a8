/**
 * What ingest derives beyond the session row's own fields: the project where the agent
 * works, timeline text for events that came without a message, and no 1970 dates from
 * events whose time is unknown.
 */
import { ingestEventsInput, tokenTotalsInput, usageReportInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { SessionService } from "../sessions/session-service.js";
import { StatsService } from "../stats/stats-service.js";
import { UsageService } from "../usage/usage-service.js";
import { EventService } from "./event-service.js";

type Line = IngestEvent;

describe("ingest derivations", () => {
  let db: TestDatabase;
  let events: EventService;
  let sessions: SessionService;
  const ingest = (lines: Line[]) => events.ingest(ingestEventsInput.parse({ events: lines }));
  const hook = (session: string, eventType: string, payload: Record<string, unknown>, cwd?: string): Line => ({
    id: uuidv7(),
    externalSessionId: session,
    eventType,
    source: "hook",
    ...(cwd ? { cwd } : {}),
    payload: { session_id: session, hook_event_name: eventType, ...payload },
  });

  const projectOf = async (id: string | null) =>
    (await db.knex("projects").where({ id }).first()) as { path: string; name: string } | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    sessions = new SessionService({ knex: db.knex });
  });
  afterAll(async () => db.destroy());

  it("puts a session in the project of its cwd, created once, however many sessions work there", async () => {
    await ingest([hook("proj-a", "SessionStart", {}, "/home/me/app/")]);
    await ingest([
      hook("proj-b", "SessionStart", {}, "/home/me//app"),
      hook("proj-c", "SessionStart", {}, "/home/me/app/."),
    ]);
    const [a, b, c] = await Promise.all(
      ["proj-a", "proj-b", "proj-c"].map((externalId) => sessions.get({ externalId })),
    );
    expect(expectDefined(a).projectId).not.toBeNull();
    expect(expectDefined(b).projectId).toBe(expectDefined(a).projectId);
    expect(expectDefined(c).projectId).toBe(expectDefined(a).projectId);
    const project = await projectOf(expectDefined(a).projectId);
    expect(project).toMatchObject({ path: "/home/me/app", name: "app" });
  });

  it("prefers the git root a payload names, and leaves a session with no usable cwd without a project", async () => {
    await ingest([hook("proj-git", "SessionStart", { git_root: "/srv/repo" }, "/srv/repo/packages/x")]);
    const git = await sessions.get({ externalId: "proj-git" });
    expect((await projectOf(git.projectId))?.path).toBe("/srv/repo");

    await ingest([hook("proj-relative", "SessionStart", {}, "some/relative/dir")]);
    expect((await sessions.get({ externalId: "proj-relative" })).projectId).toBeNull();
  });

  it("keeps a project given when the session was created", async () => {
    const created = await sessions.create({ externalId: "proj-given", projectPath: "/given/place" });
    await ingest([hook("proj-given", "SessionStart", {}, "/elsewhere")]);
    expect((await sessions.get({ externalId: "proj-given" })).projectId).toBe(created.projectId);
  });

  it("a subagent works in its parent's project, wherever its own working directory is", async () => {
    const child = (parent: string, agent: string, cwd: string): Line => ({
      ...hook(`${parent}:agent:${agent}`, "SubagentStart", { agent_id: agent }, cwd),
      parentExternalSessionId: parent,
      agentId: agent,
    });
    const projectPaths = async () => ((await db.knex("projects").pluck("path")) as string[]).sort();

    // The parent known first (a later batch: the one-call path hands the new child over).
    await ingest([hook("mono-1", "SessionStart", {}, "/home/me/mono")]);
    await ingest([child("mono-1", "a1", "/home/me/mono/packages/types")]);
    // Parent and children in one batch (inline sidechains of an imported transcript).
    await ingest([
      hook("mono-2", "SessionStart", {}, "/home/me/mono"),
      child("mono-2", "a2", "/home/me/mono/apps/web"),
      child("mono-2", "a3", "/home/me/mono/apps/web"),
    ]);
    const parent = await sessions.get({ externalId: "mono-1" });
    expect((await projectOf(parent.projectId))?.path).toBe("/home/me/mono");
    for (const externalId of ["mono-1:agent:a1", "mono-2:agent:a2", "mono-2:agent:a3"]) {
      expect((await sessions.get({ externalId })).projectId).toBe(parent.projectId);
    }
    expect(await projectPaths()).not.toContain("/home/me/mono/packages/types");
    expect(await projectPaths()).not.toContain("/home/me/mono/apps/web");

    // A server that never saw the parent (restarted, or another replica): read from its row.
    const other = new EventService({ knex: db.knex });
    const ingestElsewhere = (lines: Line[]) => other.ingest(ingestEventsInput.parse({ events: lines }));
    await ingestElsewhere([child("mono-1", "a5", "/home/me/mono/tools")]);
    // A parent this server remembers without a project, which it got through another server
    // since: the new subagent takes that project, not its own folder's.
    await ingest([hook("mono-3", "Notification", { message: "waiting" })]);
    await ingestElsewhere([hook("mono-3", "SessionStart", {}, "/home/me/mono")]);
    await ingest([child("mono-3", "a6", "/home/me/mono/docs")]);
    for (const externalId of ["mono-1:agent:a5", "mono-3:agent:a6"]) {
      expect((await sessions.get({ externalId })).projectId, externalId).toBe(parent.projectId);
    }
    expect(await projectPaths()).not.toContain("/home/me/mono/docs");

    // A parent without a project: the subagent's own working directory, as for any session.
    await ingest([hook("nowhere-1", "SessionStart", {}, "relative/dir")]);
    await ingest([child("nowhere-1", "a4", "/srv/scratch")]);
    expect((await projectOf((await sessions.get({ externalId: "nowhere-1:agent:a4" })).projectId))?.path).toBe(
      "/srv/scratch",
    );
  });

  it("stores timeline text for transcript lines and tool hooks that came without a message", async () => {
    const at = "2026-04-01T10:00:00Z";
    await ingest([
      {
        externalSessionId: "text-1",
        eventType: "user",
        source: "transcript",
        occurredAt: at,
        payload: { type: "user", message: { role: "user", content: "Please fix the failing build" } },
      },
      {
        externalSessionId: "text-1",
        eventType: "assistant",
        source: "transcript",
        occurredAt: at,
        payload: {
          type: "assistant",
          message: {
            id: "m1",
            role: "assistant",
            content: [{ type: "tool_use", name: "Bash", input: { command: "pnpm test" } }],
          },
        },
      },
      hook("text-1", "PreToolUse", { tool_name: "Read", tool_input: { file_path: "/a/b.ts" } }),
      { externalSessionId: "text-1", eventType: "note", message: "said by the client", payload: { type: "user" } },
    ]);
    const session = await sessions.get({ externalId: "text-1" });
    const page = await events.listSummariesForSession({ sessionId: session.id, limit: 10 });
    expect(page.items.map((e) => e.message)).toEqual([
      "Please fix the failing build",
      "Bash: pnpm test",
      "Read: /a/b.ts",
      "said by the client",
    ]);
  });

  it("never dates a session, a message or a report row at the epoch for lines without a time", async () => {
    const before = new Date();
    // What the importer sends for a transcript without any timestamp.
    await ingest([
      {
        externalSessionId: "no-time",
        eventType: "summary",
        source: "transcript",
        occurredAt: "1970-01-01T00:00:00.000Z",
        payload: { type: "summary", summary: "An old chat" },
      },
      {
        externalSessionId: "no-time",
        eventType: "assistant",
        source: "transcript",
        occurredAt: "1970-01-01T00:00:00.000Z",
        payload: {
          type: "assistant",
          message: {
            id: "old-1",
            model: "claude-3-haiku-20240307",
            role: "assistant",
            content: "hi",
            usage: { input_tokens: 10, output_tokens: 1 },
          },
        },
      },
    ]);
    const session = await sessions.get({ externalId: "no-time" });
    expect(new Date(session.lastActivityAt).getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
    expect(session.startedAt).toBeNull();
    const days = await new StatsService({ knex: db.knex }).tokenTotals(
      tokenTotalsInput.parse({ groupBy: "day", sessionId: session.id }),
    );
    expect(days.map((d) => d.key)).not.toContain("1970-01-01");
    const report = await new UsageService({ knex: db.knex }).report(
      usageReportInput.parse({ groupBy: "day", sessionId: session.id }),
    );
    expect(report.rows).toHaveLength(1);
    expect(expectDefined(report.rows[0]).key).not.toBe("1970-01-01");
    // The events themselves keep the stable time the importer gave them (their identity).
    const page = await events.listSummariesForSession({ sessionId: session.id, limit: 10 });
    expect(page.items.map((e) => e.occurredAt)).toEqual(["1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.000Z"]);
  });
});
