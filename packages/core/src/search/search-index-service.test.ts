import { ingestEventsInput, searchEventsInput, type IngestEvent, type SearchHitPage } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { allPages } from "../test-helpers.js";
import { SearchIndexService } from "./search-index-service.js";
import { SearchService } from "./search-service.js";

const EVENTS = 60;
const start = Date.UTC(2026, 10, 1);
const WORDS = ["otter", "heron", "badger", "marten", "stoat"];

/** Prompts and tool calls a minute apart, words spread so that ranks differ. */
const events: IngestEvent[] = Array.from({ length: EVENTS }, (_, i) => {
  const words = WORDS.filter((_, w) => i % (w + 2) === 0);
  const text = `step ${i} ${words.join(" ")} ${i % 3 === 0 ? "otter otter" : ""}`.trim();
  return i % 2 === 0
    ? {
        externalSessionId: `index-${i % 4}`,
        eventType: "UserPromptSubmit",
        source: "hook",
        occurredAt: new Date(start + i * 60_000).toISOString(),
        payload: { hook_event_name: "UserPromptSubmit", prompt: text },
      }
    : {
        externalSessionId: `index-${i % 4}`,
        eventType: "PostToolUse",
        source: "hook",
        occurredAt: new Date(start + i * 60_000).toISOString(),
        payload: { hook_event_name: "PostToolUse", tool_name: "Bash", tool_input: { command: `echo ${text}` } },
      };
});

const QUERIES = ["otter", "heron badger", '"otter otter"', "marten or stoat", "otter -heron", "ech", "step"];

describe("SearchIndexService: the search vector filled after the commit", () => {
  let db: TestDatabase;
  let search: SearchService;
  let indexer: SearchIndexService;

  const results = async (): Promise<Record<string, SearchHitPage["items"]>> => {
    const out: Record<string, SearchHitPage["items"]> = {};
    for (const query of QUERIES) {
      const pages = await allPages((cursor) =>
        search.events(searchEventsInput.parse({ query, limit: 7, ...(cursor ? { cursor } : {}) })),
      );
      out[query] = pages.items;
    }
    return out;
  };
  /** The events with a stored vector, oldest first, and whether each is the generated column's vector. */
  const indexed = async () =>
    (
      await db.knex.raw<{ rows: Array<{ occurred_at: Date; same: boolean }> }>(
        `SELECT occurred_at, search_vector = to_tsvector('english', logbook_event_search_text(message, payload)) AS same
           FROM events WHERE search_vector IS NOT NULL ORDER BY occurred_at`,
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    search = new SearchService({ knex: db.knex });
    indexer = new SearchIndexService({ knex: db.knex });
  });
  afterAll(async () => db.destroy());

  it("stores new events without a vector; the search finds them before the indexer ran", async () => {
    await new EventService({ knex: db.knex }).ingest(ingestEventsInput.parse({ events }));
    const backlog = await indexer.backlog();
    expect(backlog).toEqual({ events: EVENTS, oldest: new Date(start) });
    const page = await search.events(searchEventsInput.parse({ query: "heron", limit: 100 }));
    expect(page.items).toHaveLength(EVENTS / 3);
    expect(page.items.every((hit) => hit.snippet.some((part) => part.match))).toBe(true);
  });

  it("fills oldest first, in batches, restartable, with the vector the generated column had; results do not change", async () => {
    const before = await results();
    expect(before.otter?.length).toBeGreaterThan(0);

    expect(await indexer.fillBatch(7)).toBe(7);
    const first = await indexed();
    expect(first.map((r) => r.occurred_at.getTime())).toEqual(Array.from({ length: 7 }, (_, i) => start + i * 60_000));
    expect(await results()).toEqual(before); // half indexed

    // Stopped after one batch (a server stopping), then another indexer takes over.
    let batches = 0;
    expect(await indexer.fillAll(10, () => ++batches >= 1)).toBe(10);
    expect((await indexer.backlog()).events).toBe(EVENTS - 17);
    expect(await new SearchIndexService({ knex: db.knex }).fillAll(10)).toBe(EVENTS - 17);
    expect(await indexer.backlog()).toEqual({ events: 0, oldest: null });
    expect(await indexer.fillBatch(10)).toBe(0);

    const all = await indexed();
    expect(all).toHaveLength(EVENTS);
    expect(all.every((r) => r.same)).toBe(true);
    expect(await results()).toEqual(before);
  });

  it("lets several indexers fill at once, each event once", async () => {
    const more = events.map((e, i) => ({
      ...e,
      externalSessionId: `index-more-${i % 4}`,
      occurredAt: new Date(start + 86_400_000 + i * 60_000).toISOString(),
    }));
    await new EventService({ knex: db.knex }).ingest(
      ingestEventsInput.parse({
        events: [...more, ...more.map((e) => ({ ...e, externalSessionId: `${e.externalSessionId}-b` }))],
      }),
    );
    expect((await indexer.backlog()).events).toBe(2 * EVENTS);
    const fillers = Array.from({ length: 4 }, () => new SearchIndexService({ knex: db.knex }));
    const filled = await Promise.all(fillers.map((f) => f.fillAll(5)));
    expect(filled.reduce((a, b) => a + b, 0)).toBe(2 * EVENTS);
    expect((await indexer.backlog()).events).toBe(0);
    expect((await indexed()).every((r) => r.same)).toBe(true);
  });

  it("refuses a batch size that is not a positive integer", async () => {
    await expect(indexer.fillBatch(0)).rejects.toThrow(RangeError);
  });
});
