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

  it("md: says what was changed on the way in, and only when something was", async () => {
    expect(await run("md").then((r) => r.content)).not.toMatch(/Secrets redacted|U\+FFFD/);
    const events = new EventService({ knex: db.knex });
    const externalSessionId = "export-changed";
    await events.ingest(
      ingestEventsInput.parse({
        events: [
          {
            externalSessionId,
            eventType: "PostToolUse",
            source: "hook",
            payload: { tool_response: `key ghp_${"a1B2c3D4e5".repeat(4)} then \u0000\ud800` },
          },
        ],
      }),
    );
    const id = (await new SessionService({ knex: db.knex }).get({ externalId: externalSessionId })).id;
    const { content } = await run("md", id);
    expect(content).toContain("\n- Secrets redacted: 1\n- Characters stored as U+FFFD (NUL, lone surrogates): 2\n");
  });

  it("md: a session told by its hooks shows a compaction's summary, a reply repeated by Stop once, a failed turn", async () => {
    const externalSessionId = "export-hooks";
    const hook = (second: number, payload: Record<string, unknown>) => ({
      externalSessionId,
      eventType: String(payload.hook_event_name),
      source: "hook" as const,
      occurredAt: at(second),
      payload: { session_id: externalSessionId, ...payload },
    });
    await new EventService({ knex: db.knex }).ingest(
      ingestEventsInput.parse({
        events: [
          hook(1, { hook_event_name: "UserPromptSubmit", prompt: "Fix the totals" }),
          hook(2, { hook_event_name: "Stop", last_assistant_message: "Fixed." }),
          // Stop fired again for the same reply, with a notice between: shown once.
          hook(3, { hook_event_name: "Notification", message: "Claude is waiting for your input" }),
          hook(4, { hook_event_name: "Stop", last_assistant_message: "Fixed." }),
          hook(5, { hook_event_name: "PostCompact", trigger: "auto", compact_summary: "Totals fixed in UTC." }),
          hook(6, { hook_event_name: "PostCompact", trigger: "auto", compact_summary: "  " }),
          hook(7, { hook_event_name: "UserPromptSubmit", prompt: "And the report?" }),
          // The same words in a new turn are a new reply.
          hook(8, { hook_event_name: "Stop", last_assistant_message: "Fixed." }),
          hook(9, { hook_event_name: "UserPromptSubmit", prompt: "Now the chart" }),
          // A turn the API ended: said, not left as a prompt without an answer.
          hook(10, {
            hook_event_name: "StopFailure",
            error: "rate_limit_error",
            error_details: "429 Too Many Requests",
          }),
        ],
      }),
    );
    const id = (await new SessionService({ knex: db.knex }).get({ externalId: externalSessionId })).id;
    const { content } = await run("md", id);
    const conversation = content.slice(content.indexOf("**User**"));
    expect(conversation).toBe(
      [
        `**User** · ${at(1)}\n\nFix the totals`,
        `**Assistant** · ${at(2)}\n\nFixed.`,
        `**Compaction summary** · ${at(5)}\n\nTotals fixed in UTC.`,
        `**User** · ${at(7)}\n\nAnd the report?`,
        `**Assistant** · ${at(8)}\n\nFixed.`,
        `**User** · ${at(9)}\n\nNow the chart`,
        "*Turn failed: rate_limit_error (429 Too Many Requests)*\n",
      ].join("\n\n"),
    );
  });

  it("a session longer than a page: read in pages, written in pieces, the same file as one value", async () => {
    const events = new EventService({ knex: db.knex });
    const LONG = "export-long";
    const prompts = Array.from({ length: 640 }, (_, i) => ({
      externalSessionId: i % 5 === 4 ? `${LONG}:agent:sub` : LONG,
      ...(i % 5 === 4 ? { parentExternalSessionId: LONG, agentId: "sub" } : {}),
      eventType: "UserPromptSubmit",
      source: "hook" as const,
      occurredAt: at(i % 60),
      payload: { prompt: `prompt number ${i}\nwith a "quoted" line` },
    }));
    await events.ingest(ingestEventsInput.parse({ events: prompts.slice(0, 500) }));
    await events.ingest(ingestEventsInput.parse({ events: prompts.slice(500) }));
    const id = (await new SessionService({ knex: db.knex }).get({ externalId: LONG })).id;

    for (const format of ["json", "md"] as const) {
      const file = await exports.open(exportSessionInput.parse({ id, format }));
      const pieces: string[] = [];
      for await (const piece of file.chunks) pieces.push(piece);
      expect(pieces.length, format).toBeGreaterThan(4); // 512 + 128 events: more than one page each
      const whole = await exports.session(exportSessionInput.parse({ id, format }));
      expect(pieces.join(""), format).toBe(whole.content);
      expect([file.sessions, file.events]).toEqual([2, 640]);
      expect([whole.sessions, whole.events]).toEqual([2, 640]);
    }
    const json = (await exports.session(exportSessionInput.parse({ id, format: "json" }))).content;
    // Written in pieces, it is still exactly what JSON.stringify makes of the whole.
    expect(json).toBe(`${JSON.stringify(JSON.parse(json), null, 2)}\n`);
    const parsed = JSON.parse(json) as { sessions: Array<{ events: Array<{ payload: { prompt: string } }> }> };
    expect(parsed.sessions.map((p) => p.events.length)).toEqual([512, 128]);
    const own = expectDefined(parsed.sessions[0]).events.map((e) => e.payload.prompt);
    expect(own).toEqual(prompts.filter((_, i) => i % 5 !== 4).map((p) => p.payload.prompt));
    const md = (await exports.session(exportSessionInput.parse({ id, format: "md" }))).content;
    const order = prompts.filter((_, i) => i % 5 !== 4).map((p) => md.indexOf(`${p.payload.prompt}\n`));
    expect(order.every((at, i) => at > (order[i - 1] ?? 0))).toBe(true);
  });

  it("is the sessions as they were when the export began: events stored meanwhile are left out", async () => {
    const file = await exports.open(exportSessionInput.parse({ id: sessionId, format: "jsonl" }));
    const late = { ...expectDefined(lines[0]), uuid: "55555555-5555-4555-8555-555555555555", timestamp: at(9) };
    await new EventService({ knex: db.knex }).ingest(ingestEventsInput.parse({ events: [toEvent(late)] }));
    let content = "";
    for await (const piece of file.chunks) content += piece;
    expect(content.trimEnd().split("\n")).toHaveLength(4);
    expect(file.events).toBe(4);
    expect(content).not.toContain(late.uuid);
    // A new export has it.
    expect((await run("jsonl")).events).toBe(5);
  });

  it("refuses to answer in one value past its limit (ANSWER_TOO_LARGE, naming the download)", async () => {
    const error = await rejection(exports.session(exportSessionInput.parse({ id: sessionId, format: "json" }), 1_000));
    expect(error).toMatchObject({ code: "ANSWER_TOO_LARGE" });
    expect((error as Error).message).toContain(`GET /export/sessions/${sessionId}?format=json`);
    // The same file under a higher limit: it is over 1,000 characters, and answered.
    const answered = await exports.session(exportSessionInput.parse({ id: sessionId, format: "json" }), 1_000_000);
    expect(answered.content.length).toBeGreaterThan(1_000);
  });

  it("an unknown session is NOT_FOUND; a bad format is refused by the contract", async () => {
    expect(await rejection(run("md", NO_SUCH_ID))).toMatchObject({ code: "NOT_FOUND" });
    expect(await rejection(exports.open(exportSessionInput.parse({ id: NO_SUCH_ID, format: "json" })))).toMatchObject({
      code: "NOT_FOUND",
    });
    expect(exportSessionInput.safeParse({ id: sessionId, format: "pdf" }).error?.issues[0]?.message).toBe(
      "must be one of md, json, jsonl",
    );
  });
});
