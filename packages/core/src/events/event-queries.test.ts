import { ingestEventsInput } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { SessionService } from "../sessions/session-service.js";
import { EventService } from "./event-service.js";

interface QueryEvent {
  sql: string;
  options?: { name?: string };
}

describe("EventQueries: a timeline page", () => {
  let db: TestDatabase;
  let events: EventService;
  let sessions: SessionService;
  let sessionId: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    sessions = new SessionService({ knex: db.knex });
    sessionId = (await sessions.create({ title: "timeline statements" })).id;
    await events.ingest(
      ingestEventsInput.parse({
        events: Array.from({ length: 9 }, (_, i) => ({
          sessionId,
          eventType: i % 3 === 0 ? "tool" : "message",
          level: i === 4 ? "error" : "info",
          payload: { i, text: `event ${i}` },
          occurredAt: new Date(Date.UTC(2026, 10, 20, 12, 0, i)).toISOString(),
        })),
      }),
    );
  });
  afterAll(async () => db.destroy());

  /** The statements `body` sent, as knex announces them. */
  async function statementsOf(body: () => Promise<unknown>): Promise<QueryEvent[]> {
    const seen: QueryEvent[] = [];
    const record = (q: QueryEvent) => seen.push(q);
    db.knex.on("query", record);
    try {
      await body();
    } finally {
      db.knex.removeListener("query", record);
    }
    return seen;
  }

  it("is one prepared statement, with and without payloads, on every page", async () => {
    let cursor: string | null = null;
    const seqs: number[] = [];
    do {
      const after: string | null = cursor;
      const sent = await statementsOf(async () => {
        const page = await events.listForSession({ sessionId, limit: 4, ...(after ? { cursor: after } : {}) });
        seqs.push(...page.items.map((e) => e.seq));
        cursor = page.nextCursor;
      });
      expect(sent.map((q) => q.options?.name)).toEqual(["logbook_timeline_page"]);
    } while (cursor);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const summaries = await statementsOf(() => events.listSummariesForSession({ sessionId, limit: 4, afterSeq: 2 }));
    expect(summaries.map((q) => q.options?.name)).toEqual(["logbook_timeline_summary_page"]);
  });

  it("answers as the filtered path does for the same page (the same rows, mapped the same)", async () => {
    // A time range that holds every event takes the per-call statement: same rows expected.
    const everything = { from: "2026-01-01T00:00:00.000Z" };
    for (const page of [{ limit: 4 }, { limit: 4, afterSeq: 3 }, { limit: 50 }]) {
      const prepared = await events.listForSession({ sessionId, ...page });
      const built = await events.listForSession({ sessionId, ...page, ...everything });
      expect(prepared.items).toEqual(built.items);
      expect(prepared.items[0]?.payload).toMatchObject({ i: page.afterSeq ?? 0 });
      const summaries = await events.listSummariesForSession({ sessionId, ...page });
      expect(summaries.items).toEqual(
        (await events.listSummariesForSession({ sessionId, ...page, ...everything })).items,
      );
      expect(summaries.items.map((e) => e.seq)).toEqual(prepared.items.map((e) => e.seq));
    }
  });

  it("keeps the filters: types, levels and times narrow the page", async () => {
    const tools = await events.listForSession({ sessionId, limit: 50, eventTypes: ["tool"] });
    expect(tools.items.map((e) => e.seq)).toEqual([1, 4, 7]);
    const errors = await events.listSummariesForSession({ sessionId, limit: 50, levels: ["error"] });
    expect(errors.items.map((e) => e.seq)).toEqual([5]);
    const window = await events.listForSession({
      sessionId,
      limit: 50,
      from: "2026-11-20T12:00:02.000Z",
      to: "2026-11-20T12:00:04.000Z",
    });
    expect(window.items.map((e) => e.seq)).toEqual([3, 4]);
  });
});
