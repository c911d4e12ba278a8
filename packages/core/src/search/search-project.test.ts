import { ingestEventsInput, searchEventsInput, type IngestEvent } from "@logbook/contracts";
import type { Knex } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { allPages } from "../test-helpers.js";
import { SEARCH_WINDOW, SearchService } from "./search-service.js";

/**
 * A project's search finds its first slab from the project's sessions (their last activity
 * and event counts), not from its events. Project `p`: eight sessions of 1,500 prompts a
 * minute apart, each starting 1,000 minutes after the one before (so each overlaps the
 * next by 500 minutes), 12,000 events; project `q`: two sessions interleaved with them;
 * and the rest of the table, 48,000 events of eight other sessions over the same time
 * (written in one statement), so that `p` is a fifth of the table, as a project is a small
 * share of it. Words: "alpha" in every event, "bravo" in one event of ten, "charlie" in the
 * oldest five events of `p` only. Every event has its own time (sessions are a few seconds
 * apart), so "the newest 500 matches" has one answer.
 */
const SESSION_EVENTS = 1_500;
const start = Date.UTC(2021, 0, 1);
const minute = 60_000;

function textOf(session: number, i: number): string {
  const words = ["filler", "words", "alpha"];
  if ((i + session) % 10 === 0) words.push("bravo");
  if (session === 0 && i < 5) words.push("charlie");
  if (i % 7 === 0) words.push("padding", "to", "vary", "the", "ranks");
  return words.join(" ");
}

function sessionEvents(name: string, session: number, first: number, offsetMs: number): IngestEvent[] {
  return Array.from({ length: SESSION_EVENTS }, (_, i) => ({
    externalSessionId: name,
    eventType: "UserPromptSubmit",
    source: "hook",
    occurredAt: new Date(start + (first + i) * minute + offsetMs).toISOString(),
    payload: { hook_event_name: "UserPromptSubmit", prompt: textOf(session, i) },
  }));
}

const P_SESSIONS = 8;
const pNames = Array.from({ length: P_SESSIONS }, (_, k) => `proj-p-${k}`);
const qNames = ["proj-q-0", "proj-q-1"];
const REST_SESSIONS = 8;
const REST_EVENTS = 6_000;

describe("SearchService.events with a project: the slab from the project's sessions", () => {
  let db: TestDatabase;
  let search: SearchService;
  let p: string;
  let q: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    search = new SearchService({ knex: db.knex });
    const ingest = new EventService({ knex: db.knex });
    const events = [
      ...pNames.flatMap((name, k) => sessionEvents(name, k, k * 1_000, k * 1_000)),
      ...qNames.flatMap((name, k) => sessionEvents(name, 100 + k, k * 4_000 + 250, 30_000 + k * 1_000)),
    ];
    for (let i = 0; i < events.length; i += 1_000) {
      await ingest.ingest(ingestEventsInput.parse({ events: events.slice(i, i + 1_000) }));
    }
    // The rest of the table: each session's first event through ingest (which makes the
    // session), the others written directly, 85 s apart (at half seconds: no time shared).
    const restNames = Array.from({ length: REST_SESSIONS }, (_, k) => `rest-${k}`);
    await ingest.ingest(
      ingestEventsInput.parse({
        events: restNames.map((name, k) => ({
          ...sessionEvents(name, 200 + k, 0, 500 + k * 1_000)[1],
          externalSessionId: name,
        })),
      }),
    );
    await db.knex.raw(
      `INSERT INTO events (id, session_id, seq, event_type, source, payload, occurred_at)
       SELECT gen_random_uuid(), s.id, 1 + j, 'UserPromptSubmit', 'hook',
         jsonb_build_object('hook_event_name', 'UserPromptSubmit', 'prompt', 'filler words alpha'),
         ?::timestamptz + make_interval(secs => j * 85 + k * 1 + 0.5)
       FROM unnest(?::text[]) WITH ORDINALITY AS r(name, k)
       JOIN sessions s ON s.external_id = r.name
       CROSS JOIN generate_series(1, ${REST_EVENTS - 1}) AS j`,
      [new Date(start).toISOString(), restNames],
    );
    [p, q] = (await Promise.all(
      ["/proj-p", "/proj-q"].map(async (path) => {
        const [row] = await db.knex("projects").insert({ name: path, path }).returning<Array<{ id: string }>>("id");
        if (!row) throw new Error("no project");
        return row.id;
      }),
    )) as [string, string];
    await db.knex("sessions").whereIn("external_id", pNames).update({ project_id: p });
    await db.knex("sessions").whereIn("external_id", qNames).update({ project_id: q });
    await db.knex.raw("ANALYZE events");
    await db.knex.raw("ANALYZE sessions");
  }, 120_000);
  afterAll(async () => db.destroy());

  /** The definition, in one statement: the project's newest SEARCH_WINDOW matches, ranked. */
  async function reference(query: string, projectId: string): Promise<Array<{ id: string; rank: number }>> {
    const result = await db.knex.raw<{ rows: Array<{ id: string; rank: number }> }>(
      `WITH q AS (SELECT websearch_to_tsquery('english', ?) AS tsq),
       window_ AS (
         SELECT e.id, e.occurred_at, ts_rank(e.search_vector, q.tsq) AS rank FROM events e, q
         WHERE e.session_id IN (SELECT id FROM sessions WHERE project_id = ?)
           AND (e.search_vector @@ q.tsq OR left(e.message, 256) ILIKE ?)
         ORDER BY e.occurred_at DESC LIMIT ${SEARCH_WINDOW}
       )
       SELECT id, rank FROM window_ ORDER BY rank DESC, occurred_at DESC, id DESC`,
      [query, projectId, `%${query}%`],
    );
    return result.rows;
  }

  async function hits(query: string, projectId: string): Promise<Array<{ id: string; rank: number }>> {
    const all = await allPages((cursor) =>
      search.events(searchEventsInput.parse({ query, projectId, limit: 500, ...(cursor ? { cursor } : {}) })),
    );
    return all.items.map((h) => ({ id: h.event.id, rank: h.rank }));
  }

  const words = [
    ["alpha", "a word in every event"],
    ["bravo", "a word in one event of ten"],
    ["charlie", "a word only in the project's oldest events"],
  ] as const;

  it.each(words)("%s (%s): the same hits, in the same order, as the plain definition", async (word) => {
    for (const projectId of [p, q]) expect(await hits(word, projectId)).toEqual(await reference(word, projectId));
  });

  it("reads the newest sessions' events, not every event of the project", async () => {
    // The first statement (the slab, the window and the page) under EXPLAIN ANALYZE: rows
    // read from events, every scan of a partition counted. From the events, the SLAB_EVENTS-th
    // newest of the project means reading all of the project's 12,000 event keys.
    const sent: Array<{ sql: string; bindings: Knex.RawBinding[] }> = [];
    const listener = (query: { sql: string; bindings?: Knex.RawBinding[] }) =>
      sent.push({ sql: query.sql, bindings: query.bindings ?? [] });
    db.knex.on("query", listener);
    try {
      await search.events(searchEventsInput.parse({ query: "alpha", projectId: p, limit: 20 }));
    } finally {
      db.knex.off("query", listener);
    }
    expect(sent).toHaveLength(1); // the window was found in the first slab
    const [statement] = sent;
    if (!statement) throw new Error("no statement");
    const explained = await db.knex.raw<{ rows: Array<{ "QUERY PLAN": unknown }> }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${statement.sql.replace(/\$\d+/g, "?")}`, // knex sent $1..$n, in order
      statement.bindings,
    );
    // A scan's rows: those it returned and those its filter dropped (per loop, like rows).
    const rowsRead = (node: PlanNode): number =>
      (node["Relation Name"]?.startsWith("events")
        ? (node["Actual Rows"] + (node["Rows Removed by Filter"] ?? 0)) * node["Actual Loops"]
        : 0) + (node.Plans ?? []).reduce((n, child) => n + rowsRead(child), 0);
    const plan = (explained.rows[0]?.["QUERY PLAN"] as Array<{ Plan: PlanNode }>)[0]?.Plan;
    if (!plan) throw new Error("no plan");
    const read = rowsRead(plan);
    // The slab: the three newest sessions and the end of the fourth (~4,000), and the page.
    expect(read).toBeGreaterThan(SEARCH_WINDOW);
    expect(read).toBeLessThan(6_000);
  });

  it("finds the same hits when the sessions' counters say the wrong thing", async () => {
    // The counters decide where the first slab ends, never what is found: the newest session
    // said to be the oldest, a session with far more events than it has, then none at all.
    const breakages: Array<Record<string, unknown>> = [
      { last_activity_at: new Date(start - 86_400_000) },
      { last_event_seq: 1_000_000 },
      { last_event_seq: 0 },
    ];
    const saved = await db
      .knex("sessions")
      .whereIn("external_id", pNames)
      .select<Array<{ id: string; last_activity_at: Date; last_event_seq: string }>>(
        "id",
        "last_activity_at",
        "last_event_seq",
      );
    try {
      for (const breakage of breakages) {
        await db
          .knex("sessions")
          .where({ external_id: pNames[P_SESSIONS - 1] })
          .update(breakage);
        if ("last_event_seq" in breakage && breakage.last_event_seq === 0)
          await db.knex("sessions").whereIn("external_id", pNames).update(breakage);
        for (const [word] of words) expect(await hits(word, p)).toEqual(await reference(word, p));
      }
    } finally {
      for (const row of saved)
        await db
          .knex("sessions")
          .where({ id: row.id })
          .update({ last_activity_at: row.last_activity_at, last_event_seq: row.last_event_seq });
    }
  });
});

interface PlanNode {
  "Relation Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}
