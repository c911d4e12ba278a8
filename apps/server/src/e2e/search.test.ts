/** `events.search` through the real server and SDK: full-text and trigram matches, filters, bad input. */
import { LogbookError } from "@logbook/sdk";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { failure, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  const line = (session: string, occurredAt: string, payload: Record<string, unknown>) => ({
    id: uuidv7(),
    externalSessionId: session,
    eventType: String(payload.type),
    source: "transcript" as const,
    occurredAt,
    payload,
  });
  await h.client.events.ingest.mutate({
    events: [
      line("search-e2e-a", "2026-06-01T10:00:00Z", {
        type: "user",
        message: { role: "user", content: "Please rename the flamingo module" },
      }),
      line("search-e2e-a", "2026-06-01T10:01:00Z", {
        type: "assistant",
        message: {
          role: "assistant",
          content: [
            { type: "tool_use", id: "tu1", name: "Bash", input: { command: "git mv src/flamingoModule.ts x" } },
          ],
        },
      }),
      line("search-e2e-b", "2026-06-02T10:00:00Z", {
        type: "assistant",
        message: { role: "assistant", content: [{ type: "text", text: "Flamingos renamed everywhere." }] },
      }),
    ],
  });
});
afterAll(() => h?.stop());

describe("events.search", () => {
  it("finds words stemmed and ranked, with marked snippets and the session they belong to", async () => {
    const page = await h.client.events.search.query({ query: "flamingo" });
    // The prompt and the reply by their words ("Flamingos" stems to "flamingo"), the command by trigrams.
    expect(page.items.map((hit) => hit.session.externalId).sort()).toEqual([
      "search-e2e-a",
      "search-e2e-a",
      "search-e2e-b",
    ]);
    const reply = expectDefined(page.items.find((hit) => hit.session.externalId === "search-e2e-b"));
    expect(reply.snippet.filter((p) => p.match).map((p) => p.text)).toEqual(["Flamingos"]);
    expect(reply.rank).toBeGreaterThan(0);
  });

  it("matches inside an identifier through trigrams, and filters by session and time", async () => {
    const inside = await h.client.events.search.query({ query: "ingoModule" });
    expect(inside.items.map((hit) => hit.event.message)).toEqual(["Bash: git mv src/flamingoModule.ts x"]);
    const session = await h.client.sessions.get.query({ externalId: "search-e2e-b" });
    const only = await h.client.events.search.query({ query: "flamingo", sessionId: session.id });
    expect(only.items.map((hit) => hit.event.sessionId)).toEqual([session.id]);
    const before = await h.client.events.search.query({ query: "flamingo", to: "2026-06-02T00:00:00Z" });
    expect(before.items.map((hit) => hit.session.externalId)).toEqual(["search-e2e-a", "search-e2e-a"]);
  });

  it("ranks among the newest 500 matches: pages end there, and a time range reaches the older ones", async () => {
    // 600 prompts with the same word, a minute apart: the window is the newest 500 (SEARCH_WINDOW).
    const at = (i: number) => new Date(Date.UTC(2026, 6, 1) + i * 60_000).toISOString();
    await h.client.events.ingest.mutate({
      events: Array.from({ length: 600 }, (_, i) => ({
        id: uuidv7(),
        externalSessionId: "search-e2e-window",
        eventType: "user",
        source: "transcript" as const,
        occurredAt: at(i),
        payload: { type: "user", message: { role: "user", content: `pelican sighting number ${i}` } },
      })),
    });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.client.events.search.query({ query: "pelican", limit: 200, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((hit) => hit.event.occurredAt));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(500);
    expect(new Set(seen)).toEqual(new Set(Array.from({ length: 500 }, (_, i) => at(100 + i))));
    const older = await h.client.events.search.query({ query: "pelican", to: at(100), limit: 200 });
    expect(older.items.map((hit) => hit.event.occurredAt).sort()).toEqual(Array.from({ length: 100 }, (_, i) => at(i)));
  });

  it("finds and shows titles, compaction summaries, tasks and results, whole, from hooks and transcript lines", async () => {
    const session = "search-e2e-kinds";
    // The word to find sits past the 160 characters a timeline line keeps: only the payload's text has it.
    const summary = `${"The report totals now close each month in UTC and the tests cover it. ".repeat(3)}Left: the axolotl export.`;
    for (const hook of [
      { hook_event_name: "PostCompact", trigger: "auto", compact_summary: summary },
      { hook_event_name: "TaskCreated", task_id: "3", subject: "Measure the cache hit rate", description: "A counter" },
    ]) {
      const post = await fetch(`${h.server.url}/hooks/claude-code`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${h.server.apiKey}` },
        body: JSON.stringify({ session_id: session, cwd: "/srv/app", ...hook }),
      });
      expect(post.status).toBe(200);
    }
    await h.client.events.ingest.mutate({
      events: [
        { type: "ai-title", aiTitle: "Close the months in UTC for the gecko ledger", sessionId: session },
        { type: "result", subtype: "success", result: "Done: months close in UTC, capybara included." },
      ].map((payload) => ({
        id: uuidv7(),
        externalSessionId: session,
        eventType: payload.type,
        source: "transcript" as const,
        payload,
      })),
    });

    const typesFound = async (query: string) =>
      (await h.client.events.search.query({ query })).items.map((hit) => hit.event.eventType);
    expect(await typesFound("axolotl")).toEqual(["PostCompact"]);
    expect(await typesFound("cache hit rate")).toEqual(["TaskCreated"]);
    expect(await typesFound("capybara")).toEqual(["result"]);
    expect(await typesFound("gecko")).toEqual(["ai-title"]);

    const stored = await h.client.sessions.get.query({ externalId: session });
    const timeline = await h.client.events.listSummariesForSession.query({ sessionId: stored.id });
    expect(timeline.items.map((e) => [e.eventType, e.message])).toEqual([
      // The timeline keeps the head, cut on a word boundary.
      [
        "PostCompact",
        "The report totals now close each month in UTC and the tests cover it. " +
          "The report totals now close each month in UTC and the tests cover it. The report totals…",
      ],
      ["TaskCreated", "Measure the cache hit rate"],
      ["ai-title", "Close the months in UTC for the gecko ledger"],
      ["result", "Done: months close in UTC, capybara included."],
    ]);
  });

  it("refuses an empty or absurdly long query and a bad filter with a 400 that names the field", async () => {
    for (const [input, path] of [
      [{ query: "" }, "query"],
      [{ query: "a".repeat(10_000) }, "query"],
      [{ query: "x", sessionId: "nope" }, "sessionId"],
      [{ query: "x", from: "2026-06-02T00:00:00Z", to: "2026-06-01T00:00:00Z" }, "to"],
    ] as const) {
      const error = await failure(h.client.events.search.query(input));
      expect(error).toBeInstanceOf(LogbookError);
      expect(error).toMatchObject({ httpStatus: 400 });
      expect((error as LogbookError).issues.map((issue) => issue.path)).toContain(path);
    }
  });
});
