import { searchEventsInput } from "@logbook/contracts";
import { SearchService } from "@logbook/core";
import { createLogbookClient } from "@logbook/sdk";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import type { Dataset } from "../generate.js";
import type { ResultRow } from "../report.js";
import { fmt, type BenchContext } from "./context.js";
import { latencyCase, trpcGet } from "./http.js";
import { buildBatches } from "./ingest.js";

const NEEDLES = 200;

/**
 * Rare words to find among the generated events (whose text is a 34-word vocabulary, so
 * every generated word is in millions of events): NEEDLES events through the API, spread
 * over the sessions and the dataset's time span, each with a word of its own and a
 * path-like identifier for the trigram index.
 */
async function storeNeedles(ctx: BenchContext, data: Dataset): Promise<string[]> {
  const client = createLogbookClient({ url: ctx.server.url, apiKey: ctx.server.apiKey, batch: false });
  const words = Array.from({ length: NEEDLES }, (_, i) => `quillwort${i.toString(36)}`);
  const now = Date.now();
  const events = words.map((word, i) => {
    const session = expectDefined(data.sessions[(i * 7919) % data.sessions.length]);
    return {
      sessionId: session.id,
      eventType: "PostToolUse",
      source: "hook" as const,
      toolName: "Edit",
      // Over the last 30 days, like the generated data's recent sessions.
      occurredAt: new Date(now - ((i * 104_729) % (30 * 86_400_000))).toISOString(),
      payload: {
        hook_event_name: "PostToolUse",
        tool_name: "Edit",
        tool_input: { file_path: `/work/bench/src/${word}Module.ts`, new_string: `fix the ${word} import` },
      },
    };
  });
  const result = await client.events.ingest.mutate({ events });
  if (result.accepted !== NEEDLES) throw new Error(`needles: ${result.accepted} of ${NEEDLES} stored`);
  await ctx.db.knex.raw("ANALYZE events");
  return words;
}

/**
 * Case: `events.search` over the stored volume (issue 16: p99 ≤ 50 ms at 10M events). The
 * mix: a rare word, a rare word inside an identifier (trigrams), words found in millions of
 * events (the ranked window of the newest 1,000), a phrase, and common words narrowed by
 * project, session and the last day.
 */
export async function searchLatencyCase(ctx: BenchContext, data: Dataset, storedEvents: number): Promise<ResultRow> {
  const needles = await storeNeedles(ctx, data);
  const search = new SearchService({ knex: ctx.db.knex });
  const dayAgo = new Date(Date.now() - 86_400_000).toISOString();
  const inputs: Array<{ label: string; input: Record<string, unknown> }> = [];
  for (let i = 0; i < 10; i++) {
    const needle = expectDefined(needles[(i * 17) % needles.length]);
    const session = expectDefined(data.sessions[(i * 31) % data.sessions.length]);
    inputs.push(
      { label: "rare word", input: { query: needle } },
      { label: "inside an identifier", input: { query: `${needle.slice(3)}Module` } },
      { label: "common word", input: { query: expectDefined(["promise", "cursor", "lint"][i % 3]) } },
      { label: "two common words", input: { query: "async query" } },
      { label: "phrase", input: { query: '"error fix"' } },
      {
        label: "common word, project",
        input: { query: "test", projectId: expectDefined(data.projects[i % data.projects.length]) },
      },
      { label: "common word, session", input: { query: "build", sessionId: session.id } },
      { label: "common word, last day", input: { query: "table", from: dayAgo } },
    );
  }
  const shapes = inputs.map(({ label, input }) => {
    const parsed = searchEventsInput.parse({ limit: 20, ...input });
    return { label, path: trpcGet("events.search", parsed), run: () => search.events(parsed) };
  });
  return latencyCase(ctx, {
    name: "search",
    what: `full-text search (20 hits, snippets), ${(storedEvents / 1e6).toFixed(2)}M events stored`,
    targetMs: 50,
    rate: 20,
    shapes,
  });
}

interface SearchSchema {
  column: string;
  indexes: string[];
}

/** The generated column's definition and the trigram index's, read from the catalog. */
async function readSearchSchema(ctx: BenchContext): Promise<SearchSchema> {
  const column = await ctx.db.knex.raw<{ rows: Array<{ expr: string }> }>(
    `SELECT pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attrdef d
       JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE d.adrelid = 'events'::regclass AND a.attname = 'search_vector'`,
  );
  const indexes = await ctx.db.knex.raw<{ rows: Array<{ def: string }> }>(
    `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index
      WHERE indrelid = 'events'::regclass AND indexrelid::regclass::text IN ('events_search_idx', 'events_message_trgm_idx')`,
  );
  const expr = column.rows[0]?.expr;
  if (!expr || indexes.rows.length !== 2) throw new Error("the events table has no search column and indexes");
  return { column: expr, indexes: indexes.rows.map((r) => r.def) };
}

async function dropSearch(ctx: BenchContext): Promise<void> {
  await ctx.db.knex.raw("DROP INDEX events_message_trgm_idx");
  await ctx.db.knex.raw("ALTER TABLE events DROP COLUMN search_vector"); // its GIN index goes with it
}

async function restoreSearch(ctx: BenchContext, schema: SearchSchema): Promise<void> {
  await ctx.db.knex.raw(
    `ALTER TABLE events ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (${schema.column}) STORED`,
  );
  for (const def of schema.indexes) await ctx.db.knex.raw(def);
}

/** Events/s of `events.ingest` through the SDK: 500-event calls, ~1 KB hook payloads, the run's clients. */
async function ingestRate(ctx: BenchContext, seed: number): Promise<number> {
  const clients = ctx.options.clients;
  const work = buildBatches(ctx.options.ingestEvents, clients, seed);
  const total = work.reduce((n, list) => n + list.reduce((m, b) => m + b.events.length, 0), 0);
  const sdk = Array.from({ length: clients }, () =>
    createLogbookClient({ url: ctx.server.url, apiKey: ctx.server.apiKey, batch: false }),
  );
  const warm = buildBatches(clients * 500, clients, seed + 1);
  await Promise.all(
    sdk.map((client, i) => Promise.all(expectDefined(warm[i]).map((b) => client.events.ingest.mutate(b)))),
  );
  const started = performance.now();
  let accepted = 0;
  await Promise.all(
    sdk.map(async (client, i) => {
      for (const batch of expectDefined(work[i])) {
        const result = await client.events.ingest.mutate(batch); // awaited first: `+=` reads before an await
        accepted += result.accepted;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (accepted !== total) throw new Error(`ingest accepted ${accepted} of ${total} events`);
  return total / seconds;
}

/**
 * Case: what the search column and its indexes cost ingest (issue 16: throughput loss
 * ≤ 15%). After a pass not counted, the same SDK ingest with the search schema, without it
 * (column and both indexes dropped), and with it again (restored from the catalog's
 * definitions); the loss is
 * against the mean of the two runs with it, so a drift of the machine over the case
 * weighs on both sides.
 */
export async function searchIngestCase(ctx: BenchContext): Promise<ResultRow> {
  const schema = await readSearchSchema(ctx);
  // One pass not counted: the first phase was the server's first ingest of the run (cold code,
  // plans and caches) and always the slowest, which inflated the loss.
  const warmUp = await ingestRate(ctx, 690);
  ctx.log(`  warm-up, not counted: ${Math.round(warmUp)} events/s`);
  const withFirst = await ingestRate(ctx, 700);
  ctx.log(`  with the search index: ${Math.round(withFirst)} events/s`);
  await dropSearch(ctx);
  let without: number;
  try {
    without = await ingestRate(ctx, 710);
    ctx.log(`  without: ${Math.round(without)} events/s`);
  } finally {
    const t = performance.now();
    await restoreSearch(ctx, schema);
    ctx.log(`  (search schema restored in ${fmt((performance.now() - t) / 1000)} s)`);
  }
  const withSecond = await ingestRate(ctx, 720);
  ctx.log(`  with the search index again: ${Math.round(withSecond)} events/s`);
  const withMean = (withFirst + withSecond) / 2;
  const loss = 1 - withMean / without;
  return {
    case: "search-ingest",
    what: `SDK ingest with vs without the search column + indexes (${ctx.options.ingestEvents} events a run)`,
    baseline: `without ${Math.round(without)} ev/s`,
    measured: `with ${Math.round(withFirst)} / ${Math.round(withSecond)} ev/s`,
    figure: `${fmt(loss * 100, 1)}% loss`,
    target: "≤ 15% loss",
    met: loss <= 0.15,
    details: { events: ctx.options.ingestEvents, warmUp, withFirst, without, withSecond, loss },
  };
}
