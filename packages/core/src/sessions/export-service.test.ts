import { exportSessionInput, ingestEventsInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { EventService } from "../events/event-service.js";
import { NO_SUCH_ID, rejection } from "../test-helpers.js";
import { ExportService } from "./export-service.js";
import { SessionService } from "./session-service.js";

const SESSION = "export-main";
const at = (second: number) => new Date(Date.UTC(2026, 10, 30, 9, 0, second)).toISOString();

/** Transcript lines as Claude Code writes them: the session's own, then a subagent's (agentId, sidechain). */
const lines: Array<Record<string, unknown>> = [
  {
    type: "user",
    uuid: "11111111-1111-4111-8111-111111111111",
    sessionId: SESSION,
    timestamp: at(1),
    message: { role: "user", content: "Rename the ```odd``` helper" },
  },
  {
    type: "assistant",
    uuid: "22222222-2222-4222-8222-222222222222",
    sessionId: SESSION,
    timestamp: at(2),
    message: {
      role: "assistant",
      content: [{ type: "tool_use", id: "tu1", name: "Bash", input: { command: "git grep odd" } }],
    },
  },
  {
    type: "user",
    uuid: "33333333-3333-4333-8333-333333333333",
    sessionId: SESSION,
    timestamp: at(3),
    message: {
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "tu1", content: "src/odd.ts:1:export const odd" }],
    },
  },
  {
    type: "assistant",
    uuid: "44444444-4444-4444-8444-444444444444",
    sessionId: SESSION,
    agentId: "helper",
    isSidechain: true,
    timestamp: at(4),
    message: { role: "assistant", content: [{ type: "text", text: "Subagent done." }] },
  },
];

const toEvent = (line: Record<string, unknown>): IngestEvent => {
  const agentId = typeof line.agentId === "string" ? line.agentId : undefined;
  return {
    id: line.uuid as string,
    externalSessionId: agentId ? `${SESSION}:agent:${agentId}` : SESSION,
    ...(agentId ? { parentExternalSessionId: SESSION, agentId } : {}),
    eventType: line.type as string,
    source: "transcript",
    occurredAt: line.timestamp as string,
    payload: line,
  };
};

describe("ExportService.session", () => {
  let db: TestDatabase;
  let exports: ExportService;
  let sessionId: string;
  const run = (format: string, id = sessionId) => exports.session(exportSessionInput.parse({ id, format }));

  beforeAll(async () => {
    db = await createTestDatabase();
    exports = new ExportService({ knex: db.knex });
    const events = new EventService({ knex: db.knex });
    await events.ingest(ingestEventsInput.parse({ events: lines.map(toEvent) }));
    // A hook event of the same session: not a transcript line, so not in the JSONL.
    await events.ingest(
      ingestEventsInput.parse({
        events: [{ externalSessionId: SESSION, eventType: "Stop", source: "hook", occurredAt: at(5), payload: {} }],
      }),
    );
    sessionId = (await new SessionService({ knex: db.knex }).get({ externalId: SESSION })).id;
  });
  afterAll(async () => db.destroy());

  it("jsonl: the transcript lines, the session's then its subagents', values as written", async () => {
    const out = await run("jsonl");
    expect(out).toMatchObject({
      fileName: "export-main.jsonl",
      mediaType: "application/x-ndjson",
      sessions: 2,
      events: 4,
    });
    const written = out.content
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as unknown);
    expect(written).toEqual(lines);
    expect(out.content.endsWith("\n")).toBe(true);
  });

  it("json: the session tree with every event, payloads whole", async () => {
    const out = await run("json");
    const parsed = JSON.parse(out.content) as {
      version: number;
      sessions: Array<{
        depth: number;
        session: { externalId: string };
        events: Array<{ eventType: string; payload: unknown }>;
      }>;
    };
    expect(parsed.version).toBe(1);
    expect(parsed.sessions.map((p) => [p.depth, p.session.externalId, p.events.length])).toEqual([
      [0, SESSION, 4],
      [1, `${SESSION}:agent:helper`, 1],
    ]);
    expect(expectDefined(parsed.sessions[0]).events.map((e) => e.eventType)).toEqual([
      "user",
      "assistant",
      "user",
      "Stop",
    ]);
    expect(out.events).toBe(5);
  });

  it("md: the conversation with tool calls and results, fences that the text cannot close, and the subagent", async () => {
    const { content, mediaType } = await run("md");
    expect(mediaType).toBe("text/markdown; charset=utf-8");
    expect(content).toMatch(/^# Rename the ```odd``` helper\n/);
    expect(content).toContain("**User** · 2026-11-30T09:00:01.000Z\n\nRename the ```odd``` helper");
    expect(content).toContain('**Tool: Bash**\n\n```json\n{\n  "command": "git grep odd"\n}\n```');
    expect(content).toContain("**Result**\n\n```\nsrc/odd.ts:1:export const odd\n```");
    expect(content).toMatch(/\n## Subagent: .*\n\n- Session: `export-main:agent:helper`/);
    expect(content).toContain("Subagent done.");
  });

  it("an unknown session is NOT_FOUND; a bad format is refused by the contract", async () => {
    expect(await rejection(run("md", NO_SUCH_ID))).toMatchObject({ code: "NOT_FOUND" });
    expect(exportSessionInput.safeParse({ id: sessionId, format: "pdf" }).error?.issues[0]?.message).toBe(
      "must be one of md, json, jsonl",
    );
  });
});
