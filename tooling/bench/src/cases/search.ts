import { searchEventsInput } from "@logbook/contracts";
import { SearchIndexService, SearchService } from "@logbook/core";
import { ensureDatabase, migrateLatest, type Knex } from "@logbook/db";
import { createLogbookClient } from "@logbook/sdk";
import { startTestServer, type TestServer } from "@logbook/server/testing";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { benchKnex, dropDatabase } from "../database.js";
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
  // Measured caught up, as the data set is: the server's indexer fills the needles' vectors.
  while ((await backlogOf(ctx.db.knex)) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
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

/** The search schema's pieces that ingest without the index drops: the trigram index (the column takes its GIN and backlog indexes with it). */
const SEARCH_INDEXES = ["events_search_idx", "events_search_backlog_idx", "events_message_trgm_idx"];

/** The search indexes' definitions, read from the catalog (to put them back exactly). */
async function readSearchIndexes(knex: Knex): Promise<string[]> {
  const indexes = await knex.raw<{ rows: Array<{ def: string }> }>(
    `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index
      WHERE indrelid = 'events'::regclass AND indexrelid::regclass::text = ANY(?::text[])`,
    [SEARCH_INDEXES],
  );
  if (indexes.rows.length !== SEARCH_INDEXES.length) throw new Error("the events table has not the search indexes");
  // A partitioned table's index reads "ON ONLY public.events": re-created so, it would cover no partition.
  return indexes.rows.map((r) => r.def.replace(/ ON ONLY /, " ON "));
}

async function dropSearch(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX events_message_trgm_idx");
  await knex.raw("ALTER TABLE events DROP COLUMN search_vector"); // its GIN and backlog indexes go with it
}

/** The column again (plain, as the migration leaves it), its indexes, and every vector filled. */
async function restoreSearch(knex: Knex, indexes: string[]): Promise<void> {
  await knex.raw("ALTER TABLE events ADD COLUMN search_vector tsvector");
  await new SearchIndexService({ knex }).fillAll(10_000);
  for (const def of indexes) await knex.raw(def);
}

interface IngestRun {
  /** Events the run ingested (at least 500 per connection). */
  events: number;
  /** Events/s of the ingest calls alone (what a burst gets). */
  burst: number;
  /** Events/s until the last one was indexed too (what ingest can keep up, indexer included). */
  sustained: number;
  /** Most events waiting for their vector while ingest ran (sampled), and at its end. */
  lagPeak: number;
  lagAtEnd: number;
  /** Seconds from the end of ingest until the backlog was empty. */
  catchUpSec: number;
}

const backlogOf = async (knex: Knex) => (await new SearchIndexService({ knex }).backlog()).events;

/**
 * One SDK ingest run (500-event calls, ~1 KB hook payloads) with `clients` connections
 * against `server`; with `watch`, the backlog of the search indexer sampled while it runs
 * and waited for to empty after it.
 */
async function ingestRun(
  ctx: BenchContext,
  server: TestServer,
  clients: number,
  seed: number,
  watch: Knex | null,
): Promise<IngestRun> {
  const work = buildBatches(ctx.options.ingestEvents, clients, seed);
  const total = work.reduce((n, list) => n + list.reduce((m, b) => m + b.events.length, 0), 0);
  const sdk = Array.from({ length: clients }, () =>
    createLogbookClient({ url: server.url, apiKey: server.apiKey, batch: false }),
  );
  const warm = buildBatches(clients * 500, clients, seed + 1);
  await Promise.all(
    sdk.map((client, i) => Promise.all(expectDefined(warm[i]).map((b) => client.events.ingest.mutate(b)))),
  );
  if (watch) while ((await backlogOf(watch)) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  let lagPeak = 0;
  let ingesting = true;
  const sampler = (async () => {
    while (watch && ingesting) {
      lagPeak = Math.max(lagPeak, await backlogOf(watch));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const started = performance.now();
  let accepted = 0;
  try {
    await Promise.all(
      sdk.map(async (client, i) => {
        for (const batch of expectDefined(work[i])) {
          const result = await client.events.ingest.mutate(batch); // awaited first: `+=` reads before an await
          accepted += result.accepted;
        }
      }),
    );
  } finally {
    ingesting = false;
    await sampler;
  }
  const ingested = performance.now();
  if (accepted !== total) throw new Error(`ingest accepted ${accepted} of ${total} events`);
  const lagAtEnd = watch ? await backlogOf(watch) : 0;
  lagPeak = Math.max(lagPeak, lagAtEnd);
  if (watch) while ((await backlogOf(watch)) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  const indexed = performance.now();
  return {
    events: total,
    burst: total / ((ingested - started) / 1000),
    sustained: total / ((indexed - started) / 1000),
    lagPeak,
    lagAtEnd,
    catchUpSec: (indexed - ingested) / 1000,
  };
}

/**
 * Case: what the search index costs ingest (issue 16: throughput loss ≤ 15%), on a database
 * of its own (so no other server's indexer is woken by its commits). The same SDK ingest
 * with the product's schema and search indexer (SEARCH_INDEX_* defaults), without any
 * search column (column and indexes dropped; a server with the indexer off), and with them
 * again; the loss is against the mean of the two runs with, so a drift of the machine over
 * the case weighs on both sides. Two figures: the burst (ingest calls alone; the indexer
 * trails) and the sustained rate (until the last event is indexed). Then the indexer's lag
 * at 1, 10 and 50 connections: the most events waiting while ingest runs and the time to
 * catch up after it.
 */
export async function searchIngestCase(ctx: BenchContext): Promise<ResultRow[]> {
  const name = `logbook_bench_search_ingest_${process.pid}`;
  await ensureDatabase(ctx.db.adminUrl, name);
  const url = ctx.db.urlOf(name);
  const knex = benchKnex(url);
  let server: TestServer | null = null;
  const start = async (indexer: boolean) =>
    (server = await startTestServer({
      databaseUrl: url,
      env: {
        LOG_LEVEL: "warn",
        RETENTION_INTERVAL_MS: "0",
        JOB_RECOVERY_INTERVAL_MS: "0",
        ...(indexer ? {} : { SEARCH_INDEX_INTERVAL_MS: "0" }),
      },
    }));
  const stop = async () => {
    await server?.stop();
    server = null;
  };
  try {
    await migrateLatest(knex);
    const clients = ctx.options.clients;
    const first = await ingestRun(ctx, await start(true), clients, 700, knex);
    ctx.log(`  with the search index: ${describe(first)}`);
    await stop();
    const indexes = await readSearchIndexes(knex);
    await dropSearch(knex);
    let without: IngestRun;
    try {
      without = await ingestRun(ctx, await start(false), clients, 710, null);
      ctx.log(`  without: ${Math.round(without.burst)} events/s`);
      await stop();
    } finally {
      const t = performance.now();
      await restoreSearch(knex, indexes);
      ctx.log(`  (search column restored and filled in ${fmt((performance.now() - t) / 1000)} s)`);
    }
    const second = await ingestRun(ctx, await start(true), clients, 720, knex);
    ctx.log(`  with the search index again: ${describe(second)}`);
    const lags: Array<[number, IngestRun]> = [];
    for (const [i, connections] of [1, 10, 50].entries()) {
      const run = await ingestRun(ctx, expectDefined(server as TestServer | null), connections, 730 + 10 * i, knex);
      ctx.log(`  ${connections} connection(s): ${describe(run)}`);
      lags.push([connections, run]);
    }
    await stop();

    const burst = (first.burst + second.burst) / 2;
    const sustained = (first.sustained + second.sustained) / 2;
    const loss = 1 - burst / without.burst;
    const sustainedLoss = 1 - sustained / without.burst;
    const what = `SDK ingest, ${clients} clients, with the search index (indexer after the commit) vs without any search column (${ctx.options.ingestEvents} events a run)`;
    return [
      {
        case: "search-ingest",
        what: `${what}: burst (ingest calls alone)`,
        baseline: `without ${Math.round(without.burst)} ev/s`,
        measured: `with ${Math.round(first.burst)} / ${Math.round(second.burst)} ev/s`,
        figure: `${fmt(loss * 100, 1)}% loss`,
        target: "≤ 15% loss",
        met: loss <= 0.15,
        details: { events: ctx.options.ingestEvents, clients, first, without, second, loss },
      },
      {
        case: "search-ingest-sustained",
        what: `${what}: sustained (until the last event is indexed)`,
        baseline: `without ${Math.round(without.burst)} ev/s`,
        measured: `with ${Math.round(first.sustained)} / ${Math.round(second.sustained)} ev/s`,
        figure: `${fmt(sustainedLoss * 100, 1)}% loss`,
        target: "≤ 15% loss",
        met: sustainedLoss <= 0.15,
        details: { sustainedLoss },
      },
      ...lags.map(([connections, run]): ResultRow => ({
        case: `search-index-lag-${connections}`,
        what: `search indexer behind SDK ingest at ${connections} connection(s) (${run.events} events)`,
        baseline: `ingest ${Math.round(run.burst)} ev/s`,
        measured: `peak ${run.lagPeak} events behind, ${run.lagAtEnd} at the end`,
        figure: `caught up ${fmt(run.catchUpSec, 2)} s after`,
        target: "",
        met: null,
        details: { connections, ...run },
      })),
    ];
  } finally {
    await stop();
    await knex.destroy();
    await dropDatabase(ctx.db.adminUrl, name);
  }
}

function describe(run: IngestRun): string {
  return (
    `${Math.round(run.burst)} events/s burst, ${Math.round(run.sustained)} sustained; ` +
    `backlog peak ${run.lagPeak}, ${run.lagAtEnd} at the end, caught up in ${fmt(run.catchUpSec, 2)} s`
  );
}
