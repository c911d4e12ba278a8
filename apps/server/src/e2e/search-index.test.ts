/**
 * The search vector filled after the commit (issue 16), through the real server and SDK: an
 * event is found the moment its ingest returns, indexed or not, and the server's indexer,
 * woken by the commit, fills its vector without waiting for its timer.
 */
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startHarness, type Harness } from "./harness.js";

const hookEvent = (session: string, prompt: string) => ({
  id: uuidv7(),
  externalSessionId: session,
  eventType: "UserPromptSubmit",
  source: "hook" as const,
  occurredAt: new Date().toISOString(),
  payload: { hook_event_name: "UserPromptSubmit", prompt },
});

/** Events without their vector yet, and whether every stored vector is the one the definition gives. */
async function indexState(h: Harness): Promise<{ pending: number; allSame: boolean }> {
  const result = await h.db.knex.raw<{ rows: Array<{ pending: number; all_same: boolean }> }>(
    `SELECT count(*) FILTER (WHERE search_vector IS NULL)::int AS pending,
            coalesce(bool_and(search_vector = logbook_event_search_vector(message, payload))
                     FILTER (WHERE search_vector IS NOT NULL), true) AS all_same
       FROM events`,
  );
  const row = result.rows[0];
  return { pending: row?.pending ?? -1, allSame: row?.all_same ?? false };
}

describe("a server that fills no search vectors (SEARCH_INDEX_INTERVAL_MS=0)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { SEARCH_INDEX_INTERVAL_MS: "0" } });
  });
  afterAll(() => h?.stop());

  it("still finds an event the moment its ingest returns, by the vector computed on the fly", async () => {
    await h.client.events.ingest.mutate({ events: [hookEvent("lag-a", "rename the axolotl fixtures")] });
    expect((await indexState(h)).pending).toBe(1);
    const page = await h.client.events.search.query({ query: "axolotl" });
    expect(page.items.map((hit) => hit.snippet.filter((p) => p.match).map((p) => p.text))).toEqual([["axolotl"]]);
  });
});

describe("a server with the search indexer on", () => {
  let h: Harness;
  beforeAll(async () => {
    // An hour: the indexer's timer never fires in this test, only the commit's wake.
    h = await startHarness({ env: { SEARCH_INDEX_INTERVAL_MS: "3600000", SEARCH_INDEX_BATCH_SIZE: "7" } });
  });
  afterAll(() => h?.stop());

  it("fills the vectors of ingested events, woken by their commit", async () => {
    const events = Array.from({ length: 30 }, (_, i) => hookEvent(`lag-${i % 3}`, `tune the capybara ${i}`));
    await h.client.events.ingest.mutate({ events });
    // Waits for the indexer; the test's timeout bounds the wait.
    while ((await indexState(h)).pending > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await indexState(h)).toEqual({ pending: 0, allSame: true });
    const page = await h.client.events.search.query({ query: "capybara", limit: 100 });
    expect(page.items).toHaveLength(30);
  });
});
