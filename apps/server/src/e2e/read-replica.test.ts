/**
 * DATABASE_READ_URL on a real primary + standby pair: two local PostgreSQL clusters from
 * the embedded binaries, streaming replication between them (base backup through the
 * low-level backup API: `pg_basebackup` is not in the npm build). While the standby's
 * replay is paused, a session written through the server is found by id (the primary) but
 * missing from the list and its timeline is empty (the standby): the reads are shown to be
 * served by the replica. The replication lag is measured and printed (docs/scaling.md).
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createKnex, startEmbeddedPostgres, type EmbeddedPostgresHandle, type Knex } from "@logbook/db";
import { startStandby, type Standby } from "@logbook/db/testing";
import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { startTestServer, type TestServer } from "../testing/index.js";

let dir: string;
let primary: EmbeddedPostgresHandle;
let standby: Standby;
let server: TestServer;
let client: LogbookClient;
/** Superuser pools on each cluster. */
let onPrimary: Knex;
let onStandby: Knex;

async function scalar<T>(knex: Knex, sql: string): Promise<T> {
  const result = await knex.raw<{ rows: Array<{ value: T }> }>(`SELECT ${sql} AS value`);
  return expectDefined(result.rows[0]).value;
}

/** Waits (polling) until the standby has replayed everything the primary has written so far. */
async function caughtUp(): Promise<void> {
  const target = await scalar<string>(onPrimary, "pg_current_wal_lsn()::text");
  await waitFor(
    "the standby to replay the primary's WAL",
    () => scalar<boolean>(onStandby, `pg_wal_lsn_diff('${target}'::pg_lsn, pg_last_wal_replay_lsn()) > 0`),
    { deadlineMs: DEADLINE_MS, everyMs: 5, accept: (behind) => !behind },
  );
}

/** How long a wait here may take before it fails naming what never came (tests have 180 s). */
const DEADLINE_MS = 60_000;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "logbook-replica-"));
  primary = await startEmbeddedPostgres({ dataDir: join(dir, "primary") });
  const appUrl = await primary.ensureAppDatabase("logbook");
  standby = await startStandby(primary, join(dir, "standby"));
  onPrimary = createKnex(primary.connectionString);
  onStandby = createKnex(standby.adminUrl);
  server = await startTestServer({ databaseUrl: appUrl, env: { DATABASE_READ_URL: standby.urlFor(appUrl) } });
  client = createLogbookClient({ url: server.url, apiKey: server.apiKey, retry: false });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await onStandby?.destroy();
  await onPrimary?.destroy();
  await standby?.stop();
  await primary?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const events = (externalSessionId: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ externalSessionId, eventType: "tick", message: `m${i}` }));

describe("a read replica (DATABASE_READ_URL)", () => {
  it("serves the session list and the timeline; gets by id and writes go to the primary", async () => {
    const seen = `seen-${randomUUID()}`;
    await client.ingest(events(seen, 3));
    await caughtUp();
    const listed = await client.sessions.list.query({ limit: 100 });
    expect(listed.items.map((s) => s.externalId)).toContain(seen);

    // Hold the standby still: what is written now reaches the primary only.
    await scalar(onStandby, "pg_wal_replay_pause()");
    await waitFor("the standby to pause", () => scalar<string>(onStandby, "pg_get_wal_replay_pause_state()"), {
      deadlineMs: DEADLINE_MS,
      accept: (state) => state === "paused",
    });
    const unseen = `unseen-${randomUUID()}`;
    await client.ingest(events(unseen, 4));
    const session = await client.sessions.get.query({ externalId: unseen }); // the primary: read-your-writes
    expect(session.externalId).toBe(unseen);
    const whilePaused = await client.sessions.list.query({ limit: 100 });
    expect(whilePaused.items.map((s) => s.externalId)).not.toContain(unseen); // the standby
    // Its timeline, read on the standby, is empty (not "unknown session": the primary knows it).
    const timeline = await client.events.listForSession.query({ sessionId: session.id });
    expect(timeline.items).toEqual([]);

    await scalar(onStandby, "pg_wal_replay_resume()");
    await caughtUp();
    const after = await client.sessions.list.query({ limit: 100 });
    expect(after.items.map((s) => s.externalId)).toContain(unseen);
    expect((await client.events.listForSession.query({ sessionId: session.id })).items).toHaveLength(4);
  });

  it("measures the replication lag: commit on the primary to replayed on the standby", async () => {
    const lags: number[] = [];
    const externalSessionId = `lag-${randomUUID()}`;
    for (let i = 0; i < 20; i++) {
      await client.ingest(events(externalSessionId, 10));
      const acknowledged = performance.now();
      await caughtUp();
      lags.push(performance.now() - acknowledged);
    }
    lags.sort((a, b) => a - b);
    const at = (q: number) => expectDefined(lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]).toFixed(1);
    // A figure for docs/scaling.md, not an assertion (a shared machine's timing is no test).
    console.log(
      `replica lag over ${lags.length} ingests of 10 events: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`,
    );
    expect(lags).toHaveLength(20);
    const replayed = await scalar<string>(
      onStandby,
      "(SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming')::text",
    );
    expect(replayed).toBe("1");
  });
});
