import { randomUUID } from "node:crypto";

import type { IngestEvent } from "@logbook/contracts";
import { createLogbookClient } from "@logbook/sdk";

import { CpuMeter, type CpuSplit } from "../cpu.js";
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
 * the same database. Target (issue 15): SDK rate ≥ 80% of COPY's.
 */
export async function ingestCase(ctx: BenchContext): Promise<ResultRow> {
  const clients = ctx.options.clients;
  // The SDK as users run it (its default retries for transient failures: ingest is idempotent).
  const sdk = Array.from({ length: clients }, () =>
    createLogbookClient({ url: ctx.server.url, apiKey: ctx.server.apiKey, batch: false }),
  );
  return againstCopy(ctx, {
    name: "ingest",
    what: `batch ingest via SDK (${BATCH}/call, 1 KB, ${clients} clients)`,
    seeds: [101, 102],
    send: async (client, batch) => (await expectDefined(sdk[client]).events.ingest.mutate(batch)).accepted,
  });
}

/**
 * Case 1b: the emitter's batches. `POST /trpc/hooks.ingest` with the body the emitter's
 * flush sends (`{"events":[envelope,…]}`, each envelope `{"id","occurredAt","machineId",
 * "payload"}` with a UUIDv7 id and the time of capture), 500 hook payloads of ~1 KB a call,
 * the same clients and COPY baseline as case 1. The emitter keeps its envelopes as text in
 * the spool and joins them, so the bodies are made before the clock starts, as there.
 */
export async function hooksIngestCase(ctx: BenchContext): Promise<ResultRow> {
  const { server, options } = ctx;
  const random = rng(104);
  const body = (batch: Batch) => {
    const now = Date.now();
    const envelopes = batch.events.map(
      (e, i) =>
        `{"id":"${uuidV7At(now + i, random)}","occurredAt":"${new Date(now + i).toISOString()}",` +
        `"machineId":${JSON.stringify(e.machineId)},"payload":${JSON.stringify(e.payload)}}`,
    );
    return `{"events":[${envelopes.join(",")}]}`;
  };
  const bodies = new Map<Batch, string>();
  return againstCopy(ctx, {
    name: "hooks-ingest",
    what: `emitter batches via hooks.ingest (${BATCH}/call, 1 KB, ${options.clients} clients)`,
    seeds: [105, 106],
    prepare: (batch) => bodies.set(batch, body(batch)),
    send: async (_client, batch) => {
      const response = await fetch(`${server.url}/trpc/hooks.ingest`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${server.apiKey}` },
        body: expectDefined(bodies.get(batch)),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`hooks.ingest answered ${response.status}: ${text.slice(0, 300)}`);
      return (JSON.parse(text) as { result: { data: { accepted: number } } }).result.data.accepted;
    },
  });
}

interface Sender {
  name: string;
  what: string;
  /** Seeds of the measured and the warm-up batches. */
  seeds: [number, number];
  /** Work done per batch before the clock starts (what a real client has ready). */
  prepare?: (batch: Batch) => void;
  /** Sends one batch as client `client`; answers how many events were accepted. */
  send: (client: number, batch: Batch) => Promise<number>;
}

/**
 * Sends `--ingest-events` events as 500-event batches from `--clients` concurrent clients,
 * then COPYs the same rows with the same concurrency, and reports the rate as a share of COPY's.
 */
async function againstCopy(ctx: BenchContext, sender: Sender): Promise<ResultRow> {
  const clients = ctx.options.clients;
  const work = buildBatches(ctx.options.ingestEvents, clients, sender.seeds[0]);
  const warm = buildBatches(clients * BATCH, clients, sender.seeds[1]);
  const total = work.reduce((n, list) => n + list.length * BATCH, 0);
  for (const list of [...work, ...warm]) for (const batch of list) sender.prepare?.(batch);

  // Warm-up (JIT, pool connections, sessions code paths), not timed.
  await Promise.all(warm.map((list, i) => Promise.all(list.map((b) => sender.send(i, b)))));

  const meterClient = await connect(ctx.db.url);
  const meter = new CpuMeter(meterClient, () => ctx.server.pid);
  try {
    return await sendThenCopy(ctx, sender, work, total, meter);
  } finally {
    await meterClient.end();
  }
}

/** CPU milliseconds per event, by process, rounded for the report. */
const perEvent = (split: CpuSplit, events: number) => ({
  postgres: (split.postgres * 1000) / events,
  server: (split.server * 1000) / events,
  harness: (split.harness * 1000) / events,
});
const cpuLine = (cpu: ReturnType<typeof perEvent>) =>
  `CPU ms/event: PostgreSQL ${fmt(cpu.postgres, 3)}, server ${fmt(cpu.server, 3)}, harness ${fmt(cpu.harness, 3)}`;

async function sendThenCopy(
  ctx: BenchContext,
  sender: Sender,
  work: Batch[][],
  total: number,
  meter: CpuMeter,
): Promise<ResultRow> {
  const { options, log } = ctx;
  const clients = options.clients;
  ctx.rss.start(sender.name);
  await meter.begin();
  let started = performance.now();
  let accepted = 0;
  await Promise.all(
    work.map(async (list, i) => {
      for (const batch of list) {
        const stored = await sender.send(i, batch);
        accepted += stored;
      }
    }),
  );
  const sendSeconds = (performance.now() - started) / 1000;
  const sendCpu = perEvent(await meter.end(), total);
  ctx.rss.stop();
  if (accepted !== total) throw new Error(`${sender.name} accepted ${accepted} of ${total} events`);
  const rate = total / sendSeconds;
  log(`  Logbook: ${total} events in ${fmt(sendSeconds, 2)} s = ${Math.round(rate)} events/s; ${cpuLine(sendCpu)}`);

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
    await meter.begin();
    started = performance.now();
    await Promise.all(
      pgClients.map((client, i) => copyRows(client, "events", EVENT_COPY_COLUMNS, expectDefined(linesPerClient[i]))),
    );
    const copySeconds = (performance.now() - started) / 1000;
    const copyCpu = perEvent(await meter.end(), total);
    const copyRate = total / copySeconds;
    log(`  COPY: ${total} events in ${fmt(copySeconds, 2)} s = ${Math.round(copyRate)} events/s; ${cpuLine(copyCpu)}`);
    const ratio = rate / copyRate;
    return {
      case: sender.name,
      what: sender.what,
      baseline: `COPY ${Math.round(copyRate)} ev/s`,
      measured: `${Math.round(rate)} ev/s`,
      figure: `${fmt(ratio * 100, 1)}% of COPY`,
      target: "≥ 80% of COPY",
      met: ratio >= 0.8,
      details: {
        events: total,
        clients,
        seconds: sendSeconds,
        copySeconds,
        rate,
        copyRate,
        ratio,
        cpuMsPerEvent: { logbook: sendCpu, copy: copyCpu },
      },
    };
  } finally {
    await Promise.all(pgClients.map((c) => c.end()));
  }
}
