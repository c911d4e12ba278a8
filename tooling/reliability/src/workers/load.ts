/**
 * The load generator of the load suite, run as its own process (so its CPU is not the
 * server's and its event loop does not skew the server's latencies). Mixed traffic for
 * `durationMs`: SDK ingest batches, raw hook posts, queries, and live subscriptions that
 * must receive every event written to their session after they started. Prints one
 * `R <json>` line at the end.
 */
import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

const { url, apiKey, durationMs, ingestLanes, queryLanes, hookLanes, subscribers, pauseMs } = JSON.parse(
  process.argv[2] ?? "{}",
) as {
  url: string;
  apiKey: string;
  durationMs: number;
  ingestLanes: number;
  queryLanes: number;
  hookLanes: number;
  subscribers: number;
  pauseMs: number;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const latencies: Record<string, number[]> = {};
const errors: Record<string, number> = {};
const errorSamples: string[] = [];
const record = (op: string, ms: number) => (latencies[op] ??= []).push(ms);
const fail = (op: string, error: unknown) => {
  errors[op] = (errors[op] ?? 0) + 1;
  if (errorSamples.length < 10) errorSamples.push(`${op}: ${error instanceof Error ? error.message : String(error)}`);
};
const timed = async <T>(op: string, call: () => Promise<T>): Promise<T | undefined> => {
  const t = performance.now();
  try {
    const result = await call();
    record(op, performance.now() - t);
    return result;
  } catch (error) {
    fail(op, error);
    return undefined;
  }
};

const client: LogbookClient = createLogbookClient({ url, apiKey });
const end = Date.now() + durationMs;
const SESSIONS = 8;
const sessionKey = (k: number) => `rel-load-${k}`;

// Sessions exist first so subscribers can follow them by id.
const sessionIds: string[] = [];
for (let k = 0; k < SESSIONS; k++) {
  const result = await client.ingest([{ externalSessionId: sessionKey(k), eventType: "note", message: "start" }]);
  const session = await client.sessions.get.query({ externalId: sessionKey(k) });
  sessionIds.push(session.id);
  void result;
}

/** Event ids acknowledged per session, with the time of the ack. */
const acked = new Map<number, Array<{ id: string; at: number }>>();
const subs: Array<{
  session: number;
  startedAt: number;
  received: Set<string>;
  unsubscribe: () => void;
  errors: number;
}> = [];
for (let s = 0; s < subscribers; s++) {
  const session = s % SESSIONS;
  const sub = {
    session,
    startedAt: Number.POSITIVE_INFINITY,
    received: new Set<string>(),
    unsubscribe: () => undefined as void,
    errors: 0,
  };
  await new Promise<void>((resolve) => {
    const following = client.followSession(expectDefined(sessionIds[session]), {
      onEvent: (event) => sub.received.add(event.id),
      onStarted: () => {
        if (sub.startedAt === Number.POSITIVE_INFINITY) sub.startedAt = Date.now();
        resolve();
      },
      onError: () => (sub.errors += 1),
    });
    sub.unsubscribe = () => following.unsubscribe();
    setTimeout(resolve, 10_000);
  });
  subs.push(sub);
}
// Events acked after this moment must reach the subscribers of their session.
await sleep(200);

const lanes: Array<Promise<void>> = [];
for (let l = 0; l < ingestLanes; l++) {
  lanes.push(
    (async () => {
      for (let n = 0; Date.now() < end; n++) {
        const session = (l + n) % SESSIONS;
        const events = Array.from({ length: 20 }, (_, i) => ({
          externalSessionId: sessionKey(session),
          eventType: "tool.call",
          toolName: "Bash",
          message: `l${l} n${n} i${i}`,
          payload: { n, i },
        }));
        const result = await timed("events.ingest(20)", () => client.ingest(events));
        if (result) {
          const at = Date.now();
          const list = acked.get(session) ?? [];
          for (const id of result.ids) list.push({ id, at });
          acked.set(session, list);
        }
        await sleep(pauseMs);
      }
    })(),
  );
}
for (let l = 0; l < hookLanes; l++) {
  lanes.push(
    (async () => {
      for (let n = 0; Date.now() < end; n++) {
        await timed("POST /hooks/claude-code", async () => {
          const response = await fetch(`${url}/hooks/claude-code`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
            body: JSON.stringify({
              session_id: `rel-load-hook-${n % 4}`,
              hook_event_name: n % 2 ? "PostToolUse" : "PreToolUse",
              tool_name: "Edit",
              tool_input: { file_path: "/w/a.ts" },
            }),
          });
          await response.arrayBuffer();
          if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
        });
        await sleep(pauseMs);
      }
    })(),
  );
}
for (let l = 0; l < queryLanes; l++) {
  lanes.push(
    (async () => {
      for (let n = 0; Date.now() < end; n++) {
        const id = expectDefined(sessionIds[n % SESSIONS]);
        switch (n % 5) {
          case 0:
            await timed("sessions.list", () => client.sessions.list.query({ limit: 50 }));
            break;
          case 1:
            await timed("events.listForSession", () =>
              client.events.listForSession.query({ sessionId: id, limit: 100 }),
            );
            break;
          case 2:
            await timed("events.listRecent", () => client.events.listRecent.query({ limit: 50 }));
            break;
          case 3:
            await timed("stats.overview", () => client.stats.overview.query());
            break;
          default:
            await timed("sessions.get", () => client.sessions.get.query({ id }));
        }
        await sleep(pauseMs);
      }
    })(),
  );
}
await Promise.all(lanes);
// Give the live feed a moment to deliver the last events, then compare (bounded).
let missing = 0;
let expected = 0;
for (let wait = 0; wait < 50; wait++) {
  missing = 0;
  expected = 0;
  for (const sub of subs) {
    for (const { id, at } of acked.get(sub.session) ?? []) {
      if (at < sub.startedAt + 200) continue;
      expected += 1;
      if (!sub.received.has(id)) missing += 1;
    }
  }
  if (missing === 0) break;
  await sleep(200);
}
for (const sub of subs) sub.unsubscribe();

const percentiles = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
  return {
    count: sorted.length,
    p50: Math.round(at(50) * 10) / 10,
    p95: Math.round(at(95) * 10) / 10,
    p99: Math.round(at(99) * 10) / 10,
    max: Math.round(at(100) * 10) / 10,
  };
};
const ops = Object.fromEntries(Object.entries(latencies).map(([op, values]) => [op, percentiles(values)]));
const all = percentiles(Object.values(latencies).flat());
process.stdout.write(
  `R ${JSON.stringify({ ops, all, errors, errorSamples, subscriptions: { subscribers: subs.length, expectedDeliveries: expected, missing, streamErrors: subs.reduce((a, s) => a + s.errors, 0) } })}\n`,
);
process.exit(0);
