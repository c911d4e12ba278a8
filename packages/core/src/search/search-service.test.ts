import { ingestEventsInput, searchEventsInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { EventService } from "../events/event-service.js";
import { SessionService } from "../sessions/session-service.js";
import { allPages, rejection } from "../test-helpers.js";
import { headlineParts, SearchService, substringParts } from "./search-service.js";

const at = (minute: number) => new Date(Date.UTC(2026, 10, 30, 12, minute)).toISOString();

/** A transcript line of session `search-a`, shaped as Claude Code writes it (../shared/claude-code). */
const line = (minute: number, role: "user" | "assistant", content: unknown): IngestEvent => ({
  externalSessionId: "search-a",
  eventType: role,
  source: "transcript",
  occurredAt: at(minute),
  payload: { type: role, message: { role, content } },
});

const corpus: IngestEvent[] = [
  line(1, "user", "Why are the migrations failing on CI?"),
  line(2, "assistant", [{ type: "text", text: "The rollback drops the trigram extension before the index." }]),
  // Claude Code writes one content block per line: this one a tool call.
  line(2, "assistant", [
    { type: "tool_use", id: "t1", name: "Edit", input: { file_path: "/repo/src/event-service.ts" } },
  ]),
  line(3, "user", [{ type: "tool_result", tool_use_id: "t1", content: "zebrafish updated" }]),
  {
    externalSessionId: "search-a",
    eventType: "summary",
    source: "transcript",
    occurredAt: at(4),
    payload: { type: "summary", summary: "Quokka rollout plan" },
  },
  {
    externalSessionId: "search-b",
    eventType: "PostToolUse",
    source: "hook",
    occurredAt: at(5),
    payload: {
      hook_event_name: "PostToolUse",
      tool_name: "Bash",
      tool_input: { command: "pnpm test --filter narwhal" },
      tool_response: { stdout: "all migrations passed" },
    },
  },
  {
    externalSessionId: "search-b",
    eventType: "UserPromptSubmit",
    source: "hook",
    occurredAt: at(6),
    payload: { hook_event_name: "UserPromptSubmit", prompt: "make the migrations faster" },
  },
  {
    // Subagent of search-a.
    externalSessionId: "search-a",
    agentId: "helper1",
    eventType: "assistant",
    source: "transcript",
    occurredAt: at(7),
    payload: { type: "assistant", message: { role: "assistant", content: [{ type: "text", text: "migrations ok" }] } },
  },
  {
    // Ids and the like are not searched: only what was said and done.
    externalSessionId: "search-b",
    eventType: "note",
    occurredAt: at(8),
    payload: { sessionId: "platypus", cwd: "/platypus" },
  },
];

describe("SearchService.events", () => {
  let db: TestDatabase;
  let search: SearchService;
  let sessions: SessionService;
  const find = (query: string, more: Record<string, unknown> = {}) =>
    search.events(searchEventsInput.parse({ query, ...more }));
  // The timeline text, or for an event without one (a hook's prompt) its snippet.
  const messagesOf = async (query: string, more: Record<string, unknown> = {}) =>
    (await find(query, more)).items.map((hit) => hit.event.message ?? hit.snippet.map((p) => p.text).join(""));

  beforeAll(async () => {
    db = await createTestDatabase();
    search = new SearchService({ knex: db.knex });
    sessions = new SessionService({ knex: db.knex });
    await new EventService({ knex: db.knex }).ingest(ingestEventsInput.parse({ events: corpus }));
  });
  afterAll(async () => db.destroy());

  it("finds prompts, replies, tool inputs and results, summaries and hook payloads, stemmed", async () => {
    expect(await messagesOf("zebrafish")).toEqual(["tool result: zebrafish updated"]);
    expect(await messagesOf("quokka")).toEqual(["Quokka rollout plan"]);
    expect(await messagesOf("narwhal")).toEqual(["Bash: pnpm test --filter narwhal"]);
    expect(await messagesOf("passed")).toEqual(["Bash: pnpm test --filter narwhal"]);
    // "trigram" is only in the reply's text; "fail" stems to the prompt's "failing".
    expect(await messagesOf("trigram extension")).toHaveLength(1);
    expect(await messagesOf("fail")).toEqual(["Why are the migrations failing on CI?"]);
    expect(await messagesOf("platypus")).toEqual([]);
  });

  it("finds a tool call's input after a text or thinking block of the same message", async () => {
    // One message with several blocks, as the API and the SDK send it (Claude Code mostly writes one a line).
    await new EventService({ knex: db.knex }).ingest(
      ingestEventsInput.parse({
        events: [
          {
            externalSessionId: "search-blocks",
            eventType: "assistant",
            source: "transcript",
            occurredAt: at(9),
            payload: {
              type: "assistant",
              message: {
                role: "assistant",
                content: [
                  { type: "thinking", thinking: "which file" },
                  { type: "text", text: "Reading the config first." },
                  {
                    type: "tool_use",
                    id: "t2",
                    name: "Bash",
                    input: { command: "cat wallaby.toml", description: "Show the wallaby config" },
                  },
                  { type: "tool_use", id: "t3", name: "Grep", input: { pattern: "bilby_timeout" } },
                ],
              },
            },
          },
        ],
      }),
    );
    const inSession = { sessionId: (await sessions.get({ externalId: "search-blocks" })).id };
    expect(await find("bilby_timeout", inSession)).toMatchObject({ items: [{ event: { eventType: "assistant" } }] });
    expect((await find("wallaby config", inSession)).items).toHaveLength(1);
  });

  it("ranks the better match first and marks the matched words in the snippet", async () => {
    const page = await find("migrations");
    expect(page.items.length).toBe(4);
    const ranks = page.items.map((hit) => hit.rank);
    expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);
    const hit = expectDefined(page.items.find((h) => h.event.eventType === "UserPromptSubmit"));
    expect(hit.snippet).toEqual([
      { text: "make the ", match: false },
      { text: "migrations", match: true },
      { text: " faster", match: false },
    ]);
    expect(hit.session).toMatchObject({ externalId: "search-b", title: null });
  });

  it("takes web-search syntax: phrases, or, minus", async () => {
    expect(await messagesOf('"migrations faster"')).toEqual(["make the migrations faster"]);
    expect((await messagesOf("quokka or zebrafish")).sort()).toEqual([
      "Quokka rollout plan",
      "tool result: zebrafish updated",
    ]);
    expect(await messagesOf("migrations -faster -passed -ok")).toEqual(["Why are the migrations failing on CI?"]);
  });

  it("matches a single word inside paths and identifiers through trigrams", async () => {
    // The parser keeps "/repo/src/event-service.ts" as one token: "service.ts" is no word of it.
    const page = await find("service.ts");
    expect(page.items.map((h) => h.event.message)).toEqual(["Edit: /repo/src/event-service.ts"]);
    expect(expectDefined(page.items[0]).snippet).toEqual([
      { text: "Edit: /repo/src/event-", match: false },
      { text: "service.ts", match: true },
    ]);
    // Wildcards in the query are literal.
    expect(await messagesOf("%%%")).toEqual([]);
  });

  it("filters by session (subagents included), project, event type and time", async () => {
    const a = await sessions.get({ externalId: "search-a" });
    const b = await sessions.get({ externalId: "search-b" });
    expect((await messagesOf("migrations", { sessionId: a.id })).sort()).toEqual([
      "Why are the migrations failing on CI?",
      "migrations ok",
    ]);
    expect(await messagesOf("migrations", { sessionId: b.id, eventTypes: ["UserPromptSubmit"] })).toEqual([
      "make the migrations faster",
    ]);
    expect(await messagesOf("migrations", { from: at(5), to: at(7) })).toHaveLength(2);
    await db.knex("projects").insert({ name: "p", path: "/search-p" });
    const project = (await db.knex("projects").where({ path: "/search-p" }).first()) as { id: string };
    await db.knex("sessions").where({ id: b.id }).update({ project_id: project.id });
    expect((await messagesOf("migrations", { projectId: project.id })).sort()).toEqual([
      "Bash: pnpm test --filter narwhal",
      "make the migrations faster",
    ]);
  });

  it("pages through every match once, in rank order", async () => {
    const all = await allPages((cursor) => find("migrations", { limit: 1, ...(cursor ? { cursor } : {}) }));
    expect(all.pages).toBe(4);
    expect(all.items.map((h) => h.event.id)).toEqual((await find("migrations")).items.map((h) => h.event.id));
    expect(new Set(all.items.map((h) => h.event.id)).size).toBe(4);
  });

  it("refuses bad input: empty, too long, a forged cursor, a range that ends before it starts", () => {
    expect(searchEventsInput.safeParse({ query: "   " }).error?.issues[0]?.message).toBe("give the text to search for");
    expect(searchEventsInput.safeParse({ query: "x".repeat(501) }).success).toBe(false);
    expect(searchEventsInput.safeParse({ query: "a", from: at(5), to: at(1) }).error?.issues[0]?.path).toEqual(["to"]);
    return expect(rejection(find("migrations", { cursor: "bm9wZQ" }))).resolves.toMatchObject({
      code: "INVALID_INPUT",
    });
  });

  it("a stop word alone finds nothing, with no error (too short to match inside text)", async () => {
    expect(await messagesOf("on")).toEqual([]);
  });
});

describe("snippet parts", () => {
  it("split ts_headline's markers and mark a substring", () => {
    expect(headlineParts("a \u0002b\u0003 c \u0002d\u0003")).toEqual([
      { text: "a ", match: false },
      { text: "b", match: true },
      { text: " c ", match: false },
      { text: "d", match: true },
    ]);
    expect(substringParts("Edit: /A/B.ts", "b.TS")).toEqual([
      { text: "Edit: /A/", match: false },
      { text: "B.ts", match: true },
    ]);
    expect(substringParts(null, "x")).toEqual([]);
  });
});
