import { ingestEventsInput, searchEventsInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { allPages } from "../test-helpers.js";
import { SEARCH_WINDOW, SearchService } from "./search-service.js";

/**
 * The ranked window is found by one statement whose plan depends on how common the words
 * are (the time index walked newest first with the words as a filter, or the GIN bitmap of
 * the matches): whatever the plan, the hits must be those of the plain definition — the
 * newest SEARCH_WINDOW matches, ranked. 6,000 prompts, the oldest 1,000 a day apart and the
 * rest a minute apart, with words in every event, in a few percent, in the oldest five only,
 * and in more events than the window holds.
 */
const EVENTS = 6_000;
const DAILY = 1_000;
const start = Date.UTC(2020, 0, 1);
const timeOf = (i: number) => (i < DAILY ? start + i * 86_400_000 : start + DAILY * 86_400_000 + (i - DAILY) * 60_000);

function textOf(i: number): string {
  const words = ["filler", "words"];
  words.push("alpha"); // every event
  // A few percent, some of them far back.
  if ((i >= 2_000 && i % 10 === 0) || (i < DAILY && i % 25 === 0))
    words.push(...Array<string>(1 + (i % 3)).fill("bravo"));
  if (i < 5) words.push("charlie"); // only the oldest
  if (i >= DAILY && i < 3_600 && i % 2 === 0) words.push("delta"); // more matches than the window holds
  if (i % 7 === 0) words.push("padding", "to", "vary", "the", "ranks");
  return words.join(" ");
}

const events: IngestEvent[] = Array.from({ length: EVENTS }, (_, i) => ({
  externalSessionId: "window-a",
  eventType: "UserPromptSubmit",
  source: "hook",
  occurredAt: new Date(timeOf(i)).toISOString(),
  payload: { hook_event_name: "UserPromptSubmit", prompt: textOf(i) },
}));

describe("SearchService.events: the ranked window, whatever the plan", () => {
  let db: TestDatabase;
  let search: SearchService;

  beforeAll(async () => {
    db = await createTestDatabase();
    search = new SearchService({ knex: db.knex });
    const ingest = new EventService({ knex: db.knex });
    for (let i = 0; i < events.length; i += 1_000) {
      await ingest.ingest(ingestEventsInput.parse({ events: events.slice(i, i + 1_000) }));
    }
    await db.knex.raw("ANALYZE events");
  });
  afterAll(async () => db.destroy());

  /** The definition, in one statement: the newest SEARCH_WINDOW matches, ranked. */
  async function reference(query: string): Promise<Array<{ id: string; rank: number }>> {
    const result = await db.knex.raw<{ rows: Array<{ id: string; rank: number }> }>(
      `WITH q AS (SELECT websearch_to_tsquery('english', ?) AS tsq),
       window_ AS (
         SELECT e.id, e.occurred_at, ts_rank(e.search_vector, q.tsq) AS rank FROM events e, q
         WHERE e.search_vector @@ q.tsq OR left(e.message, 256) ILIKE ?
         ORDER BY e.occurred_at DESC LIMIT ${SEARCH_WINDOW}
       )
       SELECT id, rank FROM window_ ORDER BY rank DESC, occurred_at DESC, id DESC`,
      [query, `%${query}%`],
    );
    return result.rows;
  }

  it.each([
    ["alpha", "a word in every event"],
    ["bravo", "a word in a few percent"],
    ["charlie", "a word only in the oldest events"],
    ["delta", "a word in more events than the window holds"],
  ])("%s (%s): the same hits, in the same order, as the plain definition", async (word) => {
    const expected = await reference(word);
    const all = await allPages((cursor) =>
      search.events(searchEventsInput.parse({ query: word, limit: 500, ...(cursor ? { cursor } : {}) })),
    );
    expect(all.items.map((h) => ({ id: h.event.id, rank: h.rank }))).toEqual(expected);
  });

  it("the words are as common as described", async () => {
    const count = async (word: string) =>
      Number(
        (
          await db.knex.raw<{ rows: Array<{ n: string }> }>(
            "SELECT count(*) AS n FROM events WHERE search_vector @@ to_tsquery('english', ?)",
            [word],
          )
        ).rows[0]?.n,
      );
    expect(await count("alpha")).toBe(EVENTS);
    expect(await count("bravo")).toBeLessThan(SEARCH_WINDOW);
    expect(await count("charlie")).toBe(5);
    expect(await count("delta")).toBe(1_300);
  });
});
