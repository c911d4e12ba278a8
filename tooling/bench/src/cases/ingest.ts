import { randomUUID } from "node:crypto";

import type { IngestEvent } from "@logbook/contracts";
import { createLogbookClient } from "@logbook/sdk";

import { connect, copyRow, copyRows, EVENT_COPY_COLUMNS, uuidV7At } from "../generate.js";
import { hookShape, nextEventName, rng, type HookEventName } from "../payloads.js";
import type { ResultRow } from "../report.js";
import { fmt, type BenchContext } from "./context.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

const BATCH = 500;
const SESSIONS_PER_BATCH = 5;
const PAYLOAD_BYTES = 1024;

interface Batch {
  events: Array<IngestEvent & { payload: Record<string, unknown> }>;
}

/** `clients` lists of 500-event batches, each batch over 5 sessions, payloads of ~1 KB. */
export function buildBatches(total: number, clients: number, seed: number): Batch[][] {
  const random = rng(seed);
  const perClient: Batch[][] = Array.from({ length: clients }, () => []);
  const batches = Math.max(clients, Math.ceil(total / BATCH));
  for (let b = 0; b < batches; b++) {
    const sessions = Array.from({ length: SESSIONS_PER_BATCH }, () => ({
      id: randomUUID(),
      previous: null as HookEventName | null,
    }));
    const events: Batch["events"] = [];
    for (let i = 0; i < BATCH; i++) {
      const session = expectDefined(sessions[i % SESSIONS_PER_BATCH]);
      const name = nextEventName(random, session.previous);
      session.previous = name;
      const shape = hookShape(random, name, "/work/bench-ingest", PAYLOAD_BYTES);
      events.push({
        externalSessionId: session.id,
        eventType: name,
        source: "hook",
        ...(shape.toolName ? { toolName: shape.toolName } : {}),
        ...(shape.toolUseId ? { toolUseId: shape.toolUseId } : {}),
        cwd: "/work/bench-ingest",
        machineId: "bench-machine",
        payload: { session_id: session.id, ...shape.body },
      });
    }
    expectDefined(perClient[b % clients]).push({ events });
  }
  return perClient;
}

/**
 * Case 1: batch ingest through the SDK (500 events a call, ~1 KB payloads, several
 * concurrent clients) against raw COPY of the same rows, with the same concurrency, into
 * the same database. Target: SDK rate ≥ 50% of COPY's.
 */
export async function ingestCase(ctx: BenchContext): Promise<ResultRow> {
  const { options, server, log } = ctx;
  const clients = options.clients;
  const work = buildBatches(options.ingestEvents, clients, 101);
  const warm = buildBatches(clients * BATCH, clients, 102);
  const total = work.reduce((n, list) => n + list.length * BATCH, 0);
  // The SDK as users run it (its default retries for transient failures: ingest is idempotent).
  const sdk = Array.from({ length: clients }, () =>
    createLogbookClient({ url: server.url, apiKey: server.apiKey, batch: false }),
  );

  // Warm-up (JIT, pool connections, sessions code paths), not timed.
  await Promise.all(
    sdk.map((client, i) => Promise.all(expectDefined(warm[i]).map((b) => client.events.ingest.mutate(b)))),
  );

  ctx.rss.start("ingest-sdk");
  let started = performance.now();
  let accepted = 0;
  await Promise.all(
    sdk.map(async (client, i) => {
      for (const batch of expectDefined(work[i])) {
        const result = await client.events.ingest.mutate(batch);
        accepted += result.accepted;
      }
    }),
  );
  const sdkSeconds = (performance.now() - started) / 1000;
  ctx.rss.stop();
  if (accepted !== total) throw new Error(`SDK ingest accepted ${accepted} of ${total} events`);
  const sdkRate = total / sdkSeconds;
  log(`  SDK: ${total} events in ${fmt(sdkSeconds, 2)} s = ${Math.round(sdkRate)} events/s`);

  // The same rows by COPY: sessions made first (COPY cannot create them), then the events
  // with new ids, the same payload text and columns, seq numbered per session.
  const random = rng(103);
  const pgClients = await Promise.all(Array.from({ length: clients }, () => connect(ctx.db.url)));
  try {
    const sessionIds = new Map<string, string>();
    for (const list of work)
      for (const batch of list)
        for (const e of batch.events)
          if (!sessionIds.has(expectDefined(e.externalSessionId)))
            sessionIds.set(expectDefined(e.externalSessionId), randomUUID());
    await copyRows(
      expectDefined(pgClients[0]),
      "sessions",
      ["id", "external_id", "status", "machine_id"],
      [...sessionIds.values()].map((id) => copyRow([id, `copy-${id}`, "active", "bench-machine"])),
    );
    const linesPerClient = work.map((list) => {
      const seqs = new Map<string, number>();
      const lines: string[] = [];
      const now = Date.now();
      for (const batch of list) {
        for (const e of batch.events) {
          const sessionId = expectDefined(sessionIds.get(expectDefined(e.externalSessionId)));
          const seq = (seqs.get(sessionId) ?? 0) + 1;
          seqs.set(sessionId, seq);
          const at = now + lines.length;
          lines.push(
            copyRow([
              uuidV7At(at, random),
              sessionId,
              seq,
              e.eventType,
              "hook",
              "info",
              null,
              e.toolName ?? null,
              e.toolUseId ?? null,
              null,
              e.cwd ?? null,
              e.machineId ?? null,
              JSON.stringify(e.payload),
              new Date(at).toISOString(),
            ]),
          );
        }
      }
      return lines;
    });
    started = performance.now();
    await Promise.all(
      pgClients.map((client, i) => copyRows(client, "events", EVENT_COPY_COLUMNS, expectDefined(linesPerClient[i]))),
    );
    const copySeconds = (performance.now() - started) / 1000;
    const copyRate = total / copySeconds;
    log(`  COPY: ${total} events in ${fmt(copySeconds, 2)} s = ${Math.round(copyRate)} events/s`);
    const ratio = sdkRate / copyRate;
    return {
      case: "ingest",
      what: `batch ingest via SDK (${BATCH}/call, 1 KB, ${clients} clients)`,
      baseline: `COPY ${Math.round(copyRate)} ev/s`,
      measured: `${Math.round(sdkRate)} ev/s`,
      figure: `${fmt(ratio * 100, 1)}% of COPY`,
      target: "≥ 50% of COPY",
      met: ratio >= 0.5,
      details: { events: total, clients, sdkSeconds, copySeconds, sdkRate, copyRate, ratio },
    };
  } finally {
    await Promise.all(pgClients.map((c) => c.end()));
  }
}
