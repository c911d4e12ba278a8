import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";

import { findFreePort } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import { startTestServer, type TestServer } from "@logbook/server/testing";
import stringWidth from "string-width";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import {
  ACTIVE_SESSION,
  importTranscripts,
  ingestHookFixtures,
  runCli,
  SUBAGENT_SESSION,
  tempDir,
  TRANSCRIPT_SESSION,
  WAITING_SESSION,
} from "./helpers.js";

/**
 * End to end: the built `logbook` binary against the real, built server on a real
 * PostgreSQL database, with data stored the way users store it (transcripts imported by
 * the real `logbook-hook import`, hook payloads through the SDK).
 */

let db: TestDatabase;
let server: TestServer;
let client: LogbookClient;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase();
  // The hook fixtures are dated days ago: the inactivity sweep (tested in the server) would
  // settle the waiting and active sessions mid-suite, once its first minute had passed.
  server = await startTestServer({ databaseUrl: db.url, env: { SESSION_SWEEP_INTERVAL_MS: "0" } });
  client = createLogbookClient({ url: server.url, apiKey: server.apiKey });
  env = { LOGBOOK_URL: server.url, LOGBOOK_API_KEY: server.apiKey };
  const imported = await importTranscripts(server.url, server.apiKey);
  expect(imported.code, imported.stderr).toBe(0);
  await ingestHookFixtures(client);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await db?.destroy();
});

interface SessionJson {
  id: string;
  externalId: string | null;
  status: string;
  machineId: string | null;
  tokens: { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheCreationTokens: number };
}

async function json<T>(args: string[], extraEnv: Record<string, string> = {}): Promise<T> {
  const result = await runCli([...args, "--json"], { ...env, ...extraEnv });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
}

/** The fixture transcript's token counts (the repeated message.id counted once). */
const MAIN_TOKENS = { inputTokens: 2500, outputTokens: 300, cacheCreationTokens: 3200, cacheReadTokens: 37_000 };
const SUBAGENT_TOKENS = { inputTokens: 400, outputTokens: 450, cacheCreationTokens: 1000, cacheReadTokens: 5000 };

describe("logbook sessions", () => {
  it("lists the session waiting for its person first, then by last activity", async () => {
    const { sessions } = await json<{ sessions: SessionJson[] }>(["sessions"]);
    expect(sessions.map((s) => s.externalId)).toEqual([WAITING_SESSION, ACTIVE_SESSION, TRANSCRIPT_SESSION]);
    expect(expectDefined(sessions[0]).status).toBe("waiting_input");
  });

  it("prints a plain table without colors when stdout is not a terminal", async () => {
    const result = await runCli(["sessions"], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain("\u001b[");
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^STATUS\s+SESSION\s+NAME\s+PROJECT\s+MACHINE\s+ACTIVE\s+TOKENS\s+COST$/);
    expect(lines[1]).toContain(WAITING_SESSION);
    expect(lines[1]).toContain("Publish the draft about release notes");
    expect(lines[3]).toContain("43,000");
    // A session without a project or machine shows "-" there, so the columns stay readable by position.
    const header = expectDefined(lines[0]);
    for (const heading of ["PROJECT", "MACHINE"]) {
      const column = header.indexOf(heading);
      for (const line of lines.slice(1)) expect(line[column], `${heading} in: ${line}`).toMatch(/\S/);
    }
    expect(lines.some((line) => line.includes(" - "))).toBe(true);
  });

  it("filters by status, machine, agent, time and subagents", async () => {
    const byStatus = await json<{ sessions: SessionJson[] }>(["sessions", "--status", "active,idle"]);
    expect(byStatus.sessions.map((s) => s.externalId)).toEqual([ACTIVE_SESSION, TRANSCRIPT_SESSION]);
    const byMachine = await json<{ sessions: SessionJson[] }>(["sessions", "--machine", "ci-box"]);
    expect(byMachine.sessions.map((s) => s.externalId)).toEqual([ACTIVE_SESSION]);
    const since = await json<{ sessions: SessionJson[] }>(["sessions", "--since", "2026-11-30"]);
    expect(since.sessions.map((s) => s.externalId)).toEqual([ACTIVE_SESSION, TRANSCRIPT_SESSION]);
    const withSubagents = await json<{ sessions: SessionJson[] }>(["sessions", "--subagents"]);
    expect(withSubagents.sessions.map((s) => s.externalId)).toContain(SUBAGENT_SESSION);
    const byAgent = await json<{ sessions: SessionJson[] }>(["sessions", "--subagents", "--agent", "no-such-agent"]);
    expect(byAgent.sessions).toEqual([]);
    const limited = await json<{ sessions: SessionJson[] }>(["sessions", "-n", "1"]);
    expect(limited.sessions.map((s) => s.externalId)).toEqual([WAITING_SESSION]);
  });

  it("lists the longest waiting first, so a limit cuts the newest waiter, with what each waits for", async () => {
    // A second session starts waiting now, long after the fixture's waiting session did.
    await client.hooks.ingest.mutate({
      events: [
        {
          machineId: "laptop",
          occurredAt: new Date().toISOString(),
          payload: {
            session_id: "late-waiter",
            hook_event_name: "Notification",
            notification_type: "idle_prompt",
            message: "Claude is waiting for your input",
          },
        },
      ],
    });
    try {
      const both = await json<{ sessions: Array<SessionJson & { statusReason: string | null }> }>(["sessions"]);
      expect(both.sessions.slice(0, 2).map((s) => [s.externalId, s.statusReason])).toEqual([
        [WAITING_SESSION, "permission: Bash"],
        ["late-waiter", "idle_prompt: Claude is waiting for your input"],
      ]);
      const one = await json<{ sessions: SessionJson[] }>(["sessions", "-n", "1"]);
      expect(one.sessions.map((s) => s.externalId)).toEqual([WAITING_SESSION]);
      const onLaptop = await json<{ sessions: SessionJson[] }>(["sessions", "-m", "laptop", "-s", "waiting_input"]);
      expect(onLaptop.sessions.map((s) => s.externalId)).toEqual(["late-waiter"]);
    } finally {
      const late = await client.sessions.get.query({ externalId: "late-waiter" });
      await client.sessions.setArchived.mutate({ id: late.id, archived: true }); // out of the other tests' lists
    }
  });

  it("lists a subagent waiting for its person without --subagents (a permission prompt inside it)", async () => {
    await client.hooks.ingest.mutate({
      events: [
        {
          occurredAt: new Date().toISOString(),
          payload: {
            session_id: "sub-waiter",
            agent_id: "a77",
            agent_type: "Explore",
            hook_event_name: "PermissionRequest",
            tool_name: "Bash",
            tool_input: { command: "ls /srv" },
          },
        },
      ],
    });
    try {
      const { sessions } = await json<{ sessions: SessionJson[] }>(["sessions"]);
      expect(sessions.slice(0, 2).map((s) => [s.externalId, s.status])).toEqual([
        [WAITING_SESSION, "waiting_input"],
        ["sub-waiter:agent:a77", "waiting_input"],
      ]);
      // Its parent is a top-level session like any other; other subagents stay out.
      expect(sessions.map((s) => s.externalId)).not.toContain(SUBAGENT_SESSION);
      // An agent type is a subagent's: --agent needs no --subagents (a working one, so it is
      // not listed as waiting).
      await client.hooks.ingest.mutate({
        events: [
          {
            occurredAt: new Date().toISOString(),
            payload: {
              session_id: "sub-waiter",
              agent_id: "a78",
              agent_type: "Plan",
              hook_event_name: "PreToolUse",
              tool_name: "Read",
              tool_input: { file_path: "/srv/plan.md" },
            },
          },
        ],
      });
      const planners = await json<{ sessions: SessionJson[] }>(["sessions", "--agent", "Plan"]);
      expect(planners.sessions.map((s) => [s.externalId, s.status])).toEqual([["sub-waiter:agent:a78", "active"]]);
    } finally {
      for (const externalId of ["sub-waiter:agent:a77", "sub-waiter:agent:a78", "sub-waiter"]) {
        const made = await client.sessions.get.query({ externalId });
        await client.sessions.setArchived.mutate({ id: made.id, archived: true }); // out of the other tests' lists
      }
    }
  });

  it("filters by project, given by path", async () => {
    const project = await client.projects.upsert.mutate({ path: "/home/dev/projects/zeta" });
    await client.sessions.create.mutate({ externalId: "zeta-run", projectPath: project.path, title: "zeta nightly" });
    const { sessions } = await json<{ sessions: SessionJson[] }>(["sessions", "--project", "/home/dev/projects/zeta"]);
    expect(sessions.map((s) => s.externalId)).toEqual(["zeta-run"]);
    const missing = await runCli(["sessions", "--project", "/nowhere/at/all"], env);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("no project /nowhere/at/all");
  });

  it("PROJECT is the session's project by name, not the folder its agent worked in; show gives its path and the cwd", async () => {
    await client.projects.upsert.mutate({ path: "/home/dev/projects/omega", name: "Omega Monorepo" });
    const created = await client.sessions.create.mutate({
      externalId: "omega-run",
      projectPath: "/home/dev/projects/omega",
      cwd: "/home/dev/projects/omega/packages/types",
      title: "omega nightly",
    });
    const table = await runCli(["sessions", "--project", "/home/dev/projects/omega"], env);
    expect(table.code, table.stderr).toBe(0);
    const [header, row] = table.stdout.trimEnd().split("\n");
    const column = expectDefined(header).indexOf("PROJECT");
    expect(expectDefined(row).slice(column)).toMatch(/^Omega Monorepo\s/);
    expect(row).not.toContain("types ");
    const shown = await runCli(["show", created.id], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^ {2}project {2}Omega Monorepo {2}\/home\/dev\/projects\/omega$/m);
    expect(shown.stdout).toMatch(/^ {2}cwd {6}\/home\/dev\/projects\/omega\/packages\/types$/m);
  });

  it("refuses a status the server does not know with exit 2 and the server's reason", async () => {
    const result = await runCli(["sessions", "--status", "sleeping"], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/status.*waiting_input/);
  });

  it("refuses a --since it cannot read with exit 2", async () => {
    const result = await runCli(["sessions", "--since", "yesterday"], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--since yesterday");
  });

  it("refuses an empty comma list with exit 2 rather than reading it as no filter", async () => {
    for (const args of [
      ["sessions", "--status", " , "],
      ["search", "needle", "--type", ""],
    ]) {
      const result = await runCli(args, env);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(/give at least one, e\.g\. /);
      expect(result.stdout, args.join(" ")).toBe("");
    }
  });
});

interface ShowJson {
  session: SessionJson;
  ancestors: SessionJson[];
  subagents: Array<{ depth: number; session: SessionJson }>;
  totalTokens: SessionJson["tokens"];
  eventCount: number;
  timeline: Array<{ kind: string; tool: string | null; text: string; toolUseId: string | null }>;
}

describe("logbook show", () => {
  it("shows an imported transcript: header, tokens, timeline, subagent tree", async () => {
    const result = await runCli(["show", TRANSCRIPT_SESSION], env);
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toContain("Add a test for the checkout total");
    expect(out).toMatch(/tokens\s+input 2,500 {2}output 300 {2}cache write 3,200 {2}cache read 37,000 {2}total 43,000/);
    expect(out).toMatch(/\+ agents\s+input 2,900 .*total 49,850/);
    expect(out).toMatch(/› Add a test for the checkout total/);
    expect(out).toMatch(/⚙ Bash {2}npm test -- checkout/);
    expect(out).toMatch(/↳ 3 passing \(12ms\)/);
    expect(out).toMatch(/✗ <tool_use_error>File does not exist/);
    expect(out).toMatch(/◆ Done: the checkout total test passes\./);
    // The subagent's type comes from the Task call that started it (the transcript's lines carry none).
    expect(out).toMatch(
      /Subagents \(1\)\n\s+└ test-writer Write a test for cart total with discounts .*6,850 tokens .*:agent:a4e91c7/,
    );
    expect(out).not.toContain("\u001b[");
  });

  it("--json: the session, its subagents, totals and the timeline", async () => {
    const shown = await json<ShowJson>(["show", TRANSCRIPT_SESSION]);
    expect(shown.session.externalId).toBe(TRANSCRIPT_SESSION);
    expect(shown.session.tokens).toMatchObject(MAIN_TOKENS);
    expect(shown.subagents.map((s) => [s.depth, s.session.externalId])).toEqual([[1, SUBAGENT_SESSION]]);
    expect(expectDefined(shown.subagents[0]).session.tokens).toMatchObject(SUBAGENT_TOKENS);
    expect(shown.totalTokens).toMatchObject({ inputTokens: 2900, outputTokens: 750, cacheReadTokens: 42_000 });
    expect(shown.timeline.map((e) => e.kind)).toEqual([
      "prompt",
      "assistant", // the first line of the response is only thinking: nothing to show
      "tool_call",
      "tool_result",
      "tool_call",
      "tool_result",
      "tool_error",
      "assistant",
    ]);
    // A transcript's result names its call only by id; the timeline gives it the call's tool.
    expect(shown.timeline[3]).toMatchObject({ kind: "tool_result", tool: "Bash", toolUseId: "toolu_01Bash" });
    expect(shown.timeline[4]).toMatchObject({ kind: "tool_call", tool: "Task", text: "Write the checkout total test" });
  });

  it("finds a session by Logbook id as well, and shows the subagent with its parent", async () => {
    const parent = await client.sessions.get.query({ externalId: TRANSCRIPT_SESSION });
    const byId = await json<ShowJson>(["show", parent.id]);
    expect(byId.session.id).toBe(parent.id);
    const child = await json<ShowJson>(["show", SUBAGENT_SESSION]);
    expect(child.ancestors.map((s) => s.externalId)).toEqual([TRANSCRIPT_SESSION]);
    expect(child.timeline.map((e) => e.kind)).toEqual(["prompt", "tool_call", "tool_result", "assistant"]);
  });

  it("shows a hook-recorded session: prompts, tool calls, failures and what it waits for", async () => {
    const waiting = await runCli(["show", WAITING_SESSION], env);
    expect(waiting.code, waiting.stderr).toBe(0);
    expect(waiting.stdout).toMatch(/waiting_input/);
    expect(waiting.stdout).toMatch(/^ {2}status {3}permission: Bash \(since \d{4}-\d\d-\d\d \d\d:\d\d\)$/m);
    expect(waiting.stdout).toMatch(/· session started \(startup\)/);
    expect(waiting.stdout).toMatch(/⚙ Bash {2}git push origin main/);
    expect(waiting.stdout).toMatch(/! asks permission for Bash/);
    expect(waiting.stdout).toMatch(/! Claude needs your permission to use Bash/);
    const active = await runCli(["show", ACTIVE_SESSION], env);
    expect(active.stdout).toMatch(/machine\s+ci-box/);
    expect(active.stdout).toMatch(/✗ Command failed: 1 example, 1 failure/);
    expect(active.stdout).toMatch(/↳ \/srv\/ci\/api\/spec\/login_spec\.rb/);
  });

  it("exits 3 for a session that does not exist", async () => {
    const result = await runCli(["show", "no-such-session"], env);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("no session no-such-session");
    const uuid = await runCli(["show", "00000000-0000-4000-8000-000000000000"], env);
    expect(uuid.code).toBe(3);
  });
});

interface UsageJson {
  report: string;
  timeZone: string;
  from: string | null;
  to: string | null;
  groupCount: number;
  priceTableVersion: string;
  rows: Array<
    {
      key: string;
      label: string | null;
      models: string[];
      messages: number;
      totalTokens: number;
      costUsd: number;
      unpricedMessages: number;
      externalId?: string | null;
    } & SessionJson["tokens"]
  >;
  totals: { messages: number; totalTokens: number; costUsd: number } & SessionJson["tokens"];
}

describe("logbook usage", () => {
  it("session --json: each session's tokens by kind and cost, as the session itself has them", async () => {
    const usage = await json<UsageJson>(["usage", "session", "--timezone", "UTC"]);
    const main = await client.sessions.get.query({ externalId: TRANSCRIPT_SESSION });
    const row = expectDefined(
      usage.rows.find((r) => r.key === main.id),
      "the main session's usage row",
    );
    // Three API responses: the one written over two lines counts once.
    expect(row).toMatchObject({
      ...MAIN_TOKENS,
      totalTokens: 43_000,
      messages: 3,
      label: "Add a test for the checkout total",
    });
    expect(row.models).toEqual(["claude-sonnet-4-5-20250929"]);
    expect(row.externalId).toBe(TRANSCRIPT_SESSION);
    expect(row.costUsd).toBeGreaterThan(0);
    expect(row.costUsd).toBeCloseTo(main.tokens.costUsd, 9);
    const sum = (pick: (r: UsageJson["rows"][number]) => number) => usage.rows.reduce((n, r) => n + pick(r), 0);
    expect(usage.totals.totalTokens).toBe(sum((r) => r.totalTokens));
    expect(usage.totals.costUsd).toBeCloseTo(
      sum((r) => r.costUsd),
      9,
    );
    expect(usage.priceTableVersion).not.toBe("");
  });

  it("daily, weekly and monthly add up to the same totals, in the time zone asked for", async () => {
    const daily = await json<UsageJson>(["usage", "daily", "--timezone", "UTC"]);
    const weekly = await json<UsageJson>(["usage", "weekly", "--timezone", "UTC"]);
    const monthly = await json<UsageJson>(["usage", "monthly", "--timezone", "UTC"]);
    expect(daily.timeZone).toBe("UTC");
    expect(daily.rows.map((r) => [r.key, r.totalTokens])).toEqual([["2026-11-30", 43_000 + 6_850]]);
    expect(weekly.rows.map((r) => r.key)).toEqual(["2026-11-30"]); // ISO weeks, named by their Monday
    expect(monthly.rows.map((r) => r.key)).toEqual(["2026-11"]);
    for (const report of [weekly, monthly]) expect(report.totals).toEqual(daily.totals);
    // The responses came at 10:00 UTC on Nov 30: 19:00 the same day in Tokyo, past midnight on Kiritimati (UTC+14).
    const tokyo = await json<UsageJson>(["usage", "daily", "--timezone", "Asia/Tokyo"]);
    expect(tokyo.rows.map((r) => r.key)).toEqual(["2026-11-30"]);
    const kiritimati = await json<UsageJson>(["usage", "daily", "--timezone", "Pacific/Kiritimati"]);
    expect(kiritimati.rows.map((r) => r.key)).toEqual(["2026-12-01"]);
  });

  it("prints a table like ccusage's, with models and a total row", async () => {
    const args = ["usage", "daily", "--since", "2026-11-30", "--until", "2026-12-01", "--timezone", "UTC"];
    const result = await runCli(args, env);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^Date\s+Models\s+Input\s+Output\s+Cache Create\s+Cache Read\s+Total Tokens\s+Cost \(USD\)$/,
    );
    expect(lines[1]).toMatch(/^2026-11-30\s+claude-haiku-4-5-20251001,claude-sonnet-4-5-20250929\s+2,900\s+750\s/);
    expect(lines.at(-1)).toMatch(/^Total\s+2,900\s+750\s+4,200\s+42,000\s+49,850\s+\$\d+\.\d\d$/);
    expect(result.stderr).toContain("times in UTC");
  });

  it("session table: each session by its title and the agent's own id", async () => {
    const result = await runCli(["usage", "session"], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^Add a test for the checkout total \\(${TRANSCRIPT_SESSION}\\)\\s+claude-sonnet`, "m"),
    );
  });

  it("project and model reports", async () => {
    // The server puts a session in the project of its working directory.
    const projects = await json<UsageJson>(["usage", "project"]);
    expect(projects.rows.map((r) => r.label)).toEqual(["/home/dev/shop"]);
    const shop = await json<UsageJson>(["usage", "daily", "--project", "/home/dev/shop", "--timezone", "UTC"]);
    expect(shop.totals.totalTokens).toBe(43_000 + 6_850);
    const models = await json<UsageJson>(["usage", "model"]);
    expect(models.rows.map((r) => r.key).sort()).toEqual(["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"]);
  });

  it("reads --since and --until days in the report's time zone", async () => {
    // Every response came between 10:00 and 10:02 UTC on Nov 30: Dec 1 already on Kiritimati (UTC+14).
    const utc = ["--since", "2026-11-30", "--until", "2026-12-01", "--timezone", "UTC"];
    const inUtc = await json<UsageJson>(["usage", "daily", ...utc]);
    expect([inUtc.from, inUtc.to]).toEqual(["2026-11-30T00:00:00.000Z", "2026-12-01T00:00:00.000Z"]);
    expect(inUtc.rows.map((r) => [r.key, r.totalTokens])).toEqual([["2026-11-30", 49_850]]);
    const kiritimati = ["--since", "2026-12-01", "--until", "2026-12-02", "--timezone", "Pacific/Kiritimati"];
    const inKiritimati = await json<UsageJson>(["usage", "daily", ...kiritimati]);
    expect(inKiritimati.from).toBe("2026-11-30T10:00:00.000Z");
    expect(inKiritimati.rows.map((r) => [r.key, r.totalTokens])).toEqual([["2026-12-01", 49_850]]);
    const before = await runCli(["usage", "daily", "--until", "2026-12-01", "--timezone", "Pacific/Kiritimati"], env);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toBe("no usage recorded that matches these filters\n");
  });

  it("says how many rows the limit left out of the table but not out of the total", async () => {
    const result = await runCli(["usage", "model", "-n", "1"], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trimEnd().split("\n")).toHaveLength(3); // header, one model, total
    expect(result.stdout).toMatch(/^Total\s+2,900\s+750\s/m);
    expect(result.stderr).toContain("1 smaller row not shown but in the total (--limit)");
    const models = await json<UsageJson>(["usage", "model", "-n", "1"]);
    expect([models.rows.length, models.groupCount]).toEqual([1, 2]);
  });

  it("refuses an unknown report or time zone with exit 2", async () => {
    const result = await runCli(["usage", "yearly"], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("daily, weekly, monthly, session, project");
    const zone = await runCli(["usage", "daily", "--timezone", "Mars/Olympus"], env);
    expect(zone.code).toBe(2);
    expect(zone.stderr).toContain("--timezone Mars/Olympus");
  });
});

interface HitJson {
  event: { eventType: string; message: string | null; sessionId: string };
  session: { externalId: string | null };
  snippet: Array<{ text: string; match: boolean }>;
}

describe("logbook search", () => {
  it("finds events by their words, most relevant first, with the matched words marked", async () => {
    const { hits } = await json<{ hits: HitJson[] }>(["search", "checkout tests passing"]);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.session.externalId?.startsWith(TRANSCRIPT_SESSION))).toBe(true);
    expect(expectDefined(hits[0], "a hit").snippet.filter((p) => p.match).length).toBeGreaterThan(0);
    const table = await runCli(["search", "checkout"], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^TIME\s+SESSION\s+TYPE\s+MATCH\s*$/m);
    expect(table.stdout).toContain("Done: the checkout total test passes.");
  });

  it("filters by session (subagents included) and event type; matches inside a path", async () => {
    const inPath = await json<{ hits: HitJson[] }>(["search", "total.test", "--session", TRANSCRIPT_SESSION]);
    expect(inPath.hits.map((h) => h.session.externalId)).toContain(SUBAGENT_SESSION);
    const typed = await json<{ hits: HitJson[] }>(["search", "checkout", "--type", "user"]);
    expect(typed.hits.length).toBeGreaterThan(0);
    expect(typed.hits.every((h) => h.event.eventType === "user")).toBe(true);
    const none = await runCli(["search", "nothing like this anywhere"], env);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("no matches\n");
  });

  it("refuses an empty text or a bad event type with exit 2", async () => {
    expect((await runCli(["search", "  "], env)).code).toBe(2);
    const badType = await runCli(["search", "checkout", "--type", "1bad"], env);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toContain("eventTypes");
  });

  it("says on stderr when there are more results than shown, and not when all are shown", async () => {
    const first = await runCli(["search", "checkout", "-n", "1"], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("showing the first 1 match; there are more: raise -n/--limit (up to 500)");
    const sessions = await runCli(["search", "--sessions", "e", "-n", "1"], env);
    expect(sessions.code, sessions.stderr).toBe(0);
    expect(sessions.stderr).toContain("showing the first 1 session; there are more");
    const all = await runCli(["search", "checkout", "-n", "500"], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toBe("times in UTC\n"); // the zone of its times only, no hint
  });

  it("refuses with exit 2 an option the chosen search would not read", async () => {
    const subagents = await runCli(["search", "checkout", "--subagents"], env);
    expect(subagents.code).toBe(2);
    expect(subagents.stderr).toContain("only the session search reads --subagents: add --sessions");
    const typed = await runCli(["search", "checkout", "--sessions", "--type", "user", "--since", "7d"], env);
    expect(typed.code).toBe(2);
    expect(typed.stderr).toContain("only the event search reads --type, --since");
    expect(typed.stdout).toBe("");
  });

  it("--sessions finds sessions by the text of their first prompt", async () => {
    const found = await json<{ sessions: SessionJson[] }>(["search", "--sessions", "FLAKY LOGIN"]);
    expect(found.sessions.map((s) => s.externalId)).toEqual([ACTIVE_SESSION]);
    const none = await runCli(["search", "--sessions", "nothing like this anywhere"], env);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("no sessions\n");
  });
});

describe("logbook export", () => {
  type Stored = Awaited<ReturnType<LogbookClient["events"]["listForSession"]["query"]>>["items"][number];
  /** The events of a session and its subagents, by external id, as a server stores them. */
  async function storedTree(on: LogbookClient): Promise<Map<string, Stored[]>> {
    const tree = new Map<string, Stored[]>();
    for (const externalId of [TRANSCRIPT_SESSION, SUBAGENT_SESSION]) {
      const session = await on.sessions.get.query({ externalId });
      tree.set(externalId, (await on.events.listForSession.query({ sessionId: session.id, limit: 500 })).items);
    }
    return tree;
  }
  const content = (e: Stored) => ({
    eventType: e.eventType,
    occurredAt: e.occurredAt,
    payload: e.payload,
    parentUuid: e.parentUuid,
    isSidechain: e.isSidechain,
    agentId: e.agentId,
    toolUseId: e.toolUseId,
    message: e.message,
  });

  it("jsonl: imported into a fresh server, the file gives the same events (session and subagent)", async () => {
    const dir = tempDir("logbook-export-");
    const file = join(dir, "session.jsonl");
    const written = await json<{ sessions: number; events: number }>([
      "export",
      TRANSCRIPT_SESSION,
      "--format",
      "jsonl",
      "-o",
      file,
    ]);
    expect(written).toMatchObject({ sessions: 2, events: 14 }); // the fixture files: 10 lines and 4
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const freshDb = await createTestDatabase();
    const fresh = await startTestServer({ databaseUrl: freshDb.url });
    try {
      const imported = await importTranscripts(fresh.url, fresh.apiKey, file);
      expect(imported.code, imported.stderr).toBe(0);
      const before = await storedTree(client);
      const after = await storedTree(createLogbookClient({ url: fresh.url, apiKey: fresh.apiKey }));
      for (const [externalId, events] of before) {
        const again = after.get(externalId) ?? [];
        expect(again.map(content), externalId).toEqual(events.map(content));
        // Ids too, but for lines without a uuid (file-history-snapshot): theirs is made from
        // the line's exact text, and jsonb keeps the values, not the key order.
        const withUuid = (list: Stored[]) => list.filter((e) => e.payload.uuid !== undefined).map((e) => e.id);
        expect(withUuid(again), externalId).toEqual(withUuid(events));
      }
    } finally {
      await fresh.stop();
      await freshDb.destroy();
    }
  });

  it("md on stdout; json; jsonl of a hooks-only session; refuses a format it does not know and a file that exists", async () => {
    const md = await runCli(["export", TRANSCRIPT_SESSION, "--format", "md"], env);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^# /);
    expect(md.stdout).toContain("**Tool: Bash**");
    expect(md.stdout).toContain("## Subagent: ");
    const asJson = await runCli(["export", TRANSCRIPT_SESSION, "--format", "json"], env);
    expect((JSON.parse(asJson.stdout) as { sessions: unknown[] }).sessions).toHaveLength(2);
    // A session told by its hooks has no transcript lines: an empty file, and a word why.
    const hooksOnly = await runCli(["export", WAITING_SESSION, "--format", "jsonl"], env);
    expect(hooksOnly.code, hooksOnly.stderr).toBe(0);
    expect(hooksOnly.stdout).toBe("");
    expect(hooksOnly.stderr).toContain("no transcript lines: this session was recorded by its hooks only");
    const pdf = await runCli(["export", TRANSCRIPT_SESSION, "--format", "pdf"], env);
    expect(pdf.code).toBe(2);
    expect(pdf.stderr).toContain("md, json, jsonl");
    const existing = join(tempDir("logbook-export-"), "taken.md");
    writeFileSync(existing, "mine");
    const refused = await runCli(["export", TRANSCRIPT_SESSION, "--format", "md", "-o", existing], env);
    expect(refused.code).toBe(2);
    expect(readFileSync(existing, "utf8")).toBe("mine");
    const folder = await runCli(["export", TRANSCRIPT_SESSION, "--format", "md", "-o", dirname(existing)], env);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(`${dirname(existing)} is a folder; give a file name in it`);
    const nowhere = join(dirname(existing), "no-such-folder", "x.md");
    const noFolder = await runCli(["export", TRANSCRIPT_SESSION, "--format", "md", "-o", nowhere], env);
    expect(noFolder.code).toBe(2);
    expect(noFolder.stderr).toContain(`cannot write ${nowhere}: its folder does not exist`);
    const missing = await runCli(["export", "no-such-session", "--format", "md"], env);
    expect(missing.code).toBe(3);
  });

  it("says what it exported on stderr in every mode, and --json never puts two documents on stdout", async () => {
    const md = await runCli(["export", TRANSCRIPT_SESSION, "--format", "md"], env);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stderr).toMatch(/^wrote to stdout: 2 sessions, \d+ events\n$/);
    // Without -o, stdout is the export itself, --json or not; the summary stays on stderr.
    const json = await runCli(["export", TRANSCRIPT_SESSION, "--format", "json", "--json"], env);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { version: number }).version).toBe(1);
    expect(json.stderr).toBe(md.stderr);
    const lines = await runCli(["export", TRANSCRIPT_SESSION, "--format", "jsonl", "-o", "-", "--json"], env);
    expect(lines.stderr).toMatch(/^wrote to stdout: 2 sessions, \d+ lines\n$/);
    // A file with --json: the summary is the JSON result; a notice about the file still goes to stderr.
    const file = join(tempDir("logbook-export-"), "hooks.jsonl");
    const hooksOnly = await runCli(["export", WAITING_SESSION, "--format", "jsonl", "-o", file, "--json"], env);
    expect(hooksOnly.code, hooksOnly.stderr).toBe(0);
    expect(JSON.parse(hooksOnly.stdout)).toEqual({ file, format: "jsonl", sessions: 1, events: 0 });
    expect(hooksOnly.stderr).toContain("no transcript lines: this session was recorded by its hooks only");
  });

  it("-o - writes to stdout (no file named -), and -o /dev/null is written to, not refused", async () => {
    const folder = tempDir("logbook-export-dash-");
    const dash = await runCli(["export", TRANSCRIPT_SESSION, "--format", "md", "-o", "-"], env, folder);
    expect(dash.code, dash.stderr).toBe(0);
    expect(dash.stdout).toMatch(/^# /);
    expect(existsSync(join(folder, "-"))).toBe(false);
    const discarded = await runCli(["export", TRANSCRIPT_SESSION, "--format", "md", "-o", "/dev/null"], env);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(discarded.stderr).toContain("wrote /dev/null: ");
  });

  it("says what it wrote, and show counts, in words that agree with the numbers: one session, one event", async () => {
    await client.events.ingest.mutate({
      events: [{ externalSessionId: "export-one-event", eventType: "note", message: "the only one" }],
    });
    const file = join(tempDir("logbook-export-"), "one.md");
    const written = await runCli(["export", "export-one-event", "--format", "md", "-o", file], env);
    expect(written.code, written.stderr).toBe(0);
    expect(written.stderr).toBe(`wrote ${file}: 1 session, 1 event\n`);
    const shown = await runCli(["show", "export-one-event"], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("(1 event, 1 entry, times in UTC)");
  });
});

describe("times", () => {
  // The transcript's events came at 10:00-10:02 UTC on Nov 30: already Dec 1 on Kiritimati (UTC+14).
  const kiritimati = { TZ: "Pacific/Kiritimati" };

  it("show, search and usage print this machine's time (TZ) and name the zone; --json keeps ISO UTC", async () => {
    const shown = await runCli(["show", TRANSCRIPT_SESSION], { ...env, ...kiritimati });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^ {2}started {2}2026-12-01 00:00 \(Pacific\/Kiritimati\)$/m);
    expect(shown.stdout).toContain("times in Pacific/Kiritimati)");
    expect(shown.stdout).toMatch(/^ {2}2026-12-01\n {2}00:00:00 {2}› Add a test for the checkout total$/m);
    const asJson = await json<{ timeline: Array<{ at: string }> }>(["show", TRANSCRIPT_SESSION], kiritimati);
    expect(expectDefined(asJson.timeline[0]).at).toBe("2026-11-30T10:00:00.000Z");

    const found = await runCli(["search", "checkout"], { ...env, ...kiritimati });
    expect(found.code, found.stderr).toBe(0);
    const rows = found.stdout.trimEnd().split("\n").slice(1);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatch(/^2026-12-01 00:0\d {2}/);
    expect(found.stderr).toContain("times in Pacific/Kiritimati");

    const usage = await json<{ timeZone: string }>(["usage", "daily"], kiritimati);
    expect(usage.timeZone).toBe("Pacific/Kiritimati");
  });

  it("reads a day given to sessions and search --since as its midnight in this machine's zone, as usage does", async () => {
    const since = ["--since", "2026-12-01"];
    const sessionsThere = await json<{ sessions: SessionJson[] }>(["sessions", ...since], kiritimati);
    expect(sessionsThere.sessions.map((s) => s.externalId)).toContain(TRANSCRIPT_SESSION);
    const sessionsInUtc = await json<{ sessions: SessionJson[] }>(["sessions", ...since], { TZ: "UTC" });
    expect(sessionsInUtc.sessions.map((s) => s.externalId)).not.toContain(TRANSCRIPT_SESSION);

    const hitsThere = await json<{ hits: unknown[] }>(["search", "checkout", ...since], kiritimati);
    expect(hitsThere.hits.length).toBeGreaterThan(0);
    const hitsInUtc = await json<{ hits: unknown[] }>(["search", "checkout", ...since], { TZ: "UTC" });
    expect(hitsInUtc.hits).toEqual([]);
  });
});

describe("logbook open", () => {
  it("prints a one-time login link (no display here, so it does not start a browser)", async () => {
    const result = await runCli(["open"], env);
    expect(result.code, result.stderr).toBe(0);
    const url = result.stdout.trim();
    expect(url.startsWith(`${server.url}/auth/link?token=lbl_`)).toBe(true);
    expect(result.stderr).toContain("no display");
    // The link signs a browser in once.
    const first = await fetch(url, { redirect: "manual" });
    expect(first.status).toBe(303);
    expect(first.headers.get("set-cookie")).toMatch(/^logbook_session=lbs_/);
    expect((await fetch(url, { redirect: "manual" })).headers.get("location")).toBe("/sign-in?link=invalid");

    const asJson = JSON.parse((await runCli(["open", "--json", "--no-browser"], env)).stdout) as Record<
      string,
      unknown
    >;
    expect(asJson).toMatchObject({ url: expect.stringContaining("/auth/link?token=lbl_") as string, opened: false });
    expect(Date.parse(asJson.expiresAt as string)).toBeGreaterThan(Date.now());
  });
});

describe("connection and errors", () => {
  it("reads the URL and key from $LOGBOOK_HOME/credentials when the environment has none", async () => {
    const home = tempDir("logbook-cli-credentials-");
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, "credentials"), JSON.stringify({ url: server.url, apiKey: server.apiKey }), {
      mode: 0o600,
    });
    const result = await runCli(["sessions", "--json"], { LOGBOOK_HOME: home });
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { sessions: unknown[] }).sessions.length).toBeGreaterThan(0);
  });

  it("flags win over the environment", async () => {
    const result = await runCli(["sessions", "--json", "--url", server.url, "--api-key", server.apiKey], {
      LOGBOOK_URL: "http://127.0.0.1:1",
      LOGBOOK_API_KEY: "lbk_wrong",
    });
    expect(result.code, result.stderr).toBe(0);
  });

  it("exits 4 when no server answers", async () => {
    const port = await findFreePort();
    const result = await runCli(["sessions"], { LOGBOOK_URL: `http://127.0.0.1:${port}`, LOGBOOK_API_KEY: "lbk_x" });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`cannot reach the Logbook server at http://127.0.0.1:${port}`);
    // A typo is told as one, whether or not a server answers.
    const zone = await runCli(["usage", "daily", "--timezone", "Europe/Pariss"], {
      LOGBOOK_URL: `http://127.0.0.1:${port}`,
      LOGBOOK_API_KEY: "lbk_x",
    });
    expect(zone.code).toBe(2);
    expect(zone.stderr).toBe("logbook: --timezone Europe/Pariss: not an IANA time zone (e.g. Europe/Paris, UTC)\n");
  });

  it("exits 4 when the URL leads to no Logbook API (a path after the host), saying what the server said", async () => {
    const result = await runCli(["sessions", "--url", `${server.url}/some/path`], env);
    expect(result.code).toBe(4);
    // The list and the waiting sessions go in one batch: the route names both.
    expect(result.stderr).toBe(
      `logbook: no Logbook API at ${server.url}/some/path (no route for GET /some/path/trpc/sessions.needsYou,sessions.list); check --url or LOGBOOK_URL\n`,
    );
  });

  it("exits 4 when another server answers at the URL (an error page, or a 200 that is not the API's)", async () => {
    for (const [status, type] of [
      [501, "text/plain"],
      [200, "text/html"],
    ] as const) {
      const other = createServer((_, res) => res.writeHead(status, { "content-type": type }).end("<p>not here</p>"));
      await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
      const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      try {
        const result = await runCli(["sessions", "--url", otherUrl], env);
        expect(result.code, result.stderr).toBe(4);
        expect(result.stderr).toBe(
          `logbook: no Logbook API at ${otherUrl}: it answered HTTP ${status} with something else; check --url or LOGBOOK_URL\n`,
        );
      } finally {
        await new Promise((resolve) => other.close(resolve));
      }
    }
  });

  it("exits 2 when the text is too long for a URL, naming the limit", async () => {
    for (const args of [
      ["search", "é".repeat(3000)],
      ["search", "--sessions", "x".repeat(20_000)],
    ]) {
      const result = await runCli(args, env);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(
        "the request is too long for the server (over 16 KB in its URL): give shorter text",
      );
    }
  });

  it("exits 4 when the server refuses the key, without printing the key", async () => {
    const key = "lbk_000000000000_notarealkeynotarealkeynotarealkey00000";
    const result = await runCli(["show", TRANSCRIPT_SESSION], { LOGBOOK_URL: server.url, LOGBOOK_API_KEY: key });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("refused the API key");
    expect(result.stderr).not.toContain(key);
  });

  it("exits 4 with what to do when there is no key at all", async () => {
    const result = await runCli(["sessions"], { LOGBOOK_URL: server.url });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/no API key: pass --api-key, set LOGBOOK_API_KEY/);
  });

  it("exits 2 for an unknown command or a malformed URL", async () => {
    expect((await runCli(["frobnicate"], env)).code).toBe(2);
    const badUrl = await runCli(["sessions", "--url", "not a url"], env);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain("not a URL");
  });

  it("--help and --version exit 0", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes: 0 ok, 1 error, 2 usage");
    expect((await runCli(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

// Last in the file: the session it adds would change the lists and totals the tests above check.
describe("logbook show: what was changed on the way in", () => {
  it("says how many secrets were redacted and characters stored as U+FFFD, and says nothing when none were", async () => {
    const externalId = "cli-changed-on-way-in";
    await client.hooks.ingest.mutate({
      events: [
        {
          payload: {
            session_id: externalId,
            hook_event_name: "PostToolUse",
            tool_name: "Read",
            tool_response: { content: `token ghp_${"a1B2c3D4e5".repeat(4)} then \u0000\ud800` },
          },
        },
      ],
    });
    const changed = await runCli(["show", externalId], env);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toMatch(/^ {2}changed {2}1 secret redacted · 2 characters stored as U\+FFFD$/m);
    const clean = await runCli(["show", TRANSCRIPT_SESSION], env);
    expect(clean.stdout).not.toMatch(/^ {2}changed/m);
  });
});

// After the tests above too: it adds a session.
describe("tables fitted to the width", () => {
  const widest = (text: string) =>
    Math.max(
      ...text
        .trimEnd()
        .split("\n")
        .map((line) => stringWidth(line)),
    );
  const prompt = "日本語のとても長いプロンプトで、表の幅を超えるかどうかを確かめる 👍👍 and some English";

  it("fit COLUMNS: free text cut with … by display width (CJK, emoji), ids whole, columns left out said", async () => {
    await client.hooks.ingest.mutate({
      events: [
        {
          machineId: "wide-box",
          payload: {
            session_id: "cli-wide-title",
            hook_event_name: "UserPromptSubmit",
            cwd: "/home/dev/日本語のプロジェクト",
            prompt,
          },
        },
      ],
    });
    const narrow = await runCli(["sessions", "-m", "wide-box"], { ...env, COLUMNS: "61" });
    expect(narrow.code, narrow.stderr).toBe(0);
    expect(widest(narrow.stdout)).toBeLessThanOrEqual(61);
    const row = expectDefined(narrow.stdout.split("\n").find((line) => line.includes("cli-wide-title")));
    expect(row).toMatch(/^active +cli-wide-title +日本語[^\s]*… /);
    expect(narrow.stderr).toContain("61 columns: MACHINE, TOKENS, PROJECT left out");

    // Every top-level session of the suite in 80 columns: each id whole, each line within the width.
    const all = await runCli(["sessions"], { ...env, COLUMNS: "80" });
    expect(all.code, all.stderr).toBe(0);
    expect(widest(all.stdout)).toBeLessThanOrEqual(80);
    for (const id of [TRANSCRIPT_SESSION, WAITING_SESSION, ACTIVE_SESSION]) {
      expect(all.stdout).toMatch(new RegExp(`(^|\\s)${id}\\s`, "m"));
    }

    const hits = await runCli(["search", "checkout"], { ...env, COLUMNS: "80" });
    expect(hits.code, hits.stderr).toBe(0);
    expect(widest(hits.stdout)).toBeLessThanOrEqual(80);
    expect(hits.stdout).toContain(SUBAGENT_SESSION);

    const usage = await runCli(["usage", "daily", "--timezone", "UTC"], { ...env, COLUMNS: "60" });
    expect(usage.code, usage.stderr).toBe(0);
    expect(widest(usage.stdout)).toBeLessThanOrEqual(60);
    expect(usage.stdout).toMatch(/^2026-11-30 .* \$0\.04$/m); // the cost is never what goes
    expect(usage.stderr).toContain("60 columns: Models");
  });

  it("show cuts each timeline line to COLUMNS (by display width), and --full keeps every word", async () => {
    const shown = await runCli(["show", "cli-wide-title"], { ...env, COLUMNS: "50" });
    expect(shown.code, shown.stderr).toBe(0);
    const prompt = expectDefined(shown.stdout.split("\n").find((line) => line.includes("› ")));
    expect(prompt).toMatch(/^ {2}\d\d:\d\d:\d\d {2}› 日本語.*…$/);
    expect(stringWidth(prompt)).toBeLessThanOrEqual(50);
    const full = await runCli(["show", "cli-wide-title", "--full"], { ...env, COLUMNS: "50" });
    expect(full.stdout).toContain("👍👍 and some English");
  });

  it("show breaks its token counts over lines to fit COLUMNS, never through a number", async () => {
    const shown = await runCli(["show", TRANSCRIPT_SESSION], { ...env, COLUMNS: "60" });
    expect(shown.code, shown.stderr).toBe(0);
    const lines = shown.stdout.split("\n");
    const from = lines.findIndex((line) => line.startsWith("  tokens "));
    const tokens = lines.slice(
      from,
      lines.findIndex((line, index) => index > from && !line.startsWith(" ".repeat(11))),
    );
    expect(tokens.length).toBeGreaterThan(1);
    for (const line of tokens) expect(stringWidth(line)).toBeLessThanOrEqual(60);
    expect(tokens.join(" ")).toMatch(
      /input 2,500 {2}output 300 {2}cache write 3,200 +cache read 37,000 {2}total 43,000 +cost \$0\.04/,
    );
  });

  it("prints every value whole in a pipe (no COLUMNS), as scripts read it", async () => {
    const piped = await runCli(["sessions", "-m", "wide-box"], env);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toContain(prompt.slice(0, 40));
    expect(piped.stdout).toContain("日本語のプロジェクト");
    expect(piped.stdout).toContain("wide-box");
    expect(piped.stderr).toBe("");
  });
});
