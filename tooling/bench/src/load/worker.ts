/**
 * The load process: sends requests at a fixed rate from its own process (so the load
 * generator does not share an event loop with the harness) and reports raw latencies.
 * Started by `runLoad()` with `fork`; receives one `LoadRequest`, answers one `LoadResult`.
 *
 * Open loop on purpose: request n is due at start + n/rate whatever happened to earlier
 * ones, and its latency counts from that moment, so a stall shows up in the percentiles
 * instead of silently lowering the rate (no coordinated omission). autocannon's
 * `overallRate` was tried first: it releases each second's quota per connection as a burst
 * at the start of the second, which measures bursts of N concurrent requests, not a rate.
 *
 * Closed loop (`rate: "closed"`) for throughput: each of `connections` senders posts its next
 * request as soon as the previous one is answered, like autocannon or a Claude Code `http`
 * hook (one event per request, waiting for its answer); latency counts from the send.
 */
import { Agent, request as httpRequest } from "node:http";

import { hookShape, nextEventName, rng, type HookEventName } from "../payloads.js";
import type { LoadRequest, LoadResult } from "./protocol.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

// Forked by the harness, which talks to us over the IPC channel: without one there is no one to answer.
const send = process.send?.bind(process);
if (!send) throw new Error("run by the bench harness (child_process.fork), not directly");

function requestMaker(
  scenario: LoadRequest["scenario"],
): () => { method: string; path: string; body?: string; index: number } {
  if (scenario.kind === "get") {
    let i = 0;
    return () => {
      const index = i++ % scenario.paths.length;
      return { method: "GET", path: expectDefined(scenario.paths[index]), index };
    };
  }
  const random = rng(scenario.seed);
  const sessions = Array.from({ length: scenario.sessions }, (_, i) => ({
    id: `bench-${scenario.seed}-${i}-${Math.floor(random() * 1e9).toString(36)}`,
    previous: null as HookEventName | null,
  }));
  let i = 0;
  return () => {
    const session = expectDefined(sessions[i++ % sessions.length]);
    const name = nextEventName(random, session.previous);
    session.previous = name;
    const shape = hookShape(random, name, "/work/bench", scenario.payloadBytes);
    return {
      method: "POST",
      path: "/hooks/claude-code",
      body: JSON.stringify({ session_id: session.id, ...shape.body }),
      index: 0,
    };
  };
}

async function run(spec: LoadRequest): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
  const next = requestMaker(spec.scenario);
  const url = new URL(spec.url);
  const latencies: number[] = [];
  const pathIndexes: number[] = [];
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let resetsRetried = 0;
  let firstFailure: string | undefined;
  const warmup = spec.warmupSec ?? 0;
  const start = performance.now();
  const recordFrom = start + warmup * 1000;
  const inFlight = new Set<Promise<void>>();

  const send = (dueAt: number): Promise<void> => {
    const { method, path, body, index } = next();
    const done = new Promise<void>((resolve) => {
      const attempt = (isRetry: boolean) => {
        const req = httpRequest(
          {
            agent,
            host: url.hostname,
            port: url.port,
            method,
            path,
            headers: {
              ...spec.headers,
              ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => {
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) {
                if (dueAt < recordFrom) return resolve();
                ok++;
                latencies.push(performance.now() - dueAt);
                pathIndexes.push(index);
              } else {
                failed++;
                firstFailure ??= `HTTP ${status}: ${Buffer.concat(chunks).toString("utf8").slice(0, 300)}`;
              }
              resolve();
            });
          },
        );
        req.on("error", (error: NodeJS.ErrnoException) => {
          // A keep-alive socket the server closed (idle past its keepAliveTimeout) just as
          // this request took it: the request never reached the server. Node's documented
          // answer for an idempotent request is to send it again (request.reusedSocket);
          // once, counted, and its latency still runs from when it was due.
          if (!isRetry && method === "GET" && req.reusedSocket && error.code === "ECONNRESET") {
            resetsRetried++;
            return attempt(true);
          }
          failed++;
          firstFailure ??= error.message;
          resolve();
        });
        req.end(body);
      };
      attempt(false);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
    return done;
  };

  const rate = spec.rate;
  if (rate === "closed") {
    const end = start + (warmup + spec.durationSec) * 1000;
    const sender = async () => {
      while (!stopRequested && performance.now() < end) {
        sent++;
        await send(performance.now());
      }
    };
    await Promise.all(Array.from({ length: spec.connections }, sender));
  } else {
    const total = Math.round(rate * (spec.durationSec + warmup));
    while (sent < total && !stopRequested) {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) / 1000) * rate) + 1);
      for (; sent < due; sent++) void send(start + (sent / rate) * 1000);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - Math.min(recordFrom, performance.now())) / 1000;
  agent.destroy();
  return {
    requests: sent,
    ok,
    failed,
    resetsRetried,
    achievedRate: ok / elapsed,
    latenciesMs: latencies,
    pathIndexes,
    ...(firstFailure ? { firstFailure } : {}),
  };
}

let stopRequested = false;

process.on("message", (message: LoadRequest | "stop") => {
  if (message === "stop") {
    stopRequested = true;
    return;
  }
  run(message).then(
    (result) => send({ ok: true, result }, () => process.exit(0)),
    (error: unknown) =>
      send({ ok: false, error: error instanceof Error ? error.stack : String(error) }, () => process.exit(1)),
  );
});
