/**
 * Replicas: three stateless server processes on one PostgreSQL behind a small round-robin
 * proxy (Node's own http). They start together on an empty database (migrations take
 * turns), ingest goes through the proxy and so through all three, and a live subscriber on
 * each replica gets every event exactly once, each session's events in order.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { SERVER_ENTRY, startTestServer, type TestServer } from "../testing/index.js";

const REPLICAS = 3;
const SESSIONS = 4;
const BATCHES_PER_SESSION = 6;
const EVENTS_PER_BATCH = 5;

/** How long a wait here may take before it fails naming what never came (tests have 180 s). */
const DEADLINE_MS = 120_000;

/** A load balancer in a few lines: each request (SSE streams too) to the next upstream in turn. */
function roundRobinProxy(upstreams: string[]): { server: Server; served: number[]; url: () => string } {
  const served = upstreams.map(() => 0);
  let next = 0;
  const server = createServer((req, res) => {
    const index = next++ % upstreams.length;
    served[index] = expectDefined(served[index]) + 1;
    const target = new URL(req.url ?? "/", upstreams[index]);
    const upstream = request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  return { server, served, url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let db: TestDatabase;
let replicas: TestServer[] = [];
let proxy: ReturnType<typeof roundRobinProxy>;

beforeAll(async () => {
  // An empty database: the three start together and must agree on who migrates.
  db = await createTestDatabase({ migrated: false });
  replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startTestServer({ databaseUrl: db.url })));
  proxy = roundRobinProxy(replicas.map((r) => r.url));
  await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
}, 180_000);

afterAll(async () => {
  // After a failed start there is no proxy: waiting for its close would never end.
  if (proxy) {
    proxy.server.closeAllConnections();
    await new Promise((resolve) => proxy.server.close(resolve));
  }
  await Promise.all(replicas.map((r) => r.stop()));
  await db?.destroy();
});

describe("three replicas behind a load balancer", () => {
  it("started together on an empty database: exactly one applied the migrations", () => {
    const appliers = replicas.filter((r) => r.logs().some((line) => line.includes("migration(s)")));
    expect(appliers).toHaveLength(1);
  });

  it("every event ingested through the balancer reaches a subscriber on each replica once, in order", async () => {
    const tag = randomUUID().slice(0, 8);
    // One subscriber per replica, straight to it, on everything.
    const received: Array<Array<{ id: string; sessionId: string; seq: number }>> = replicas.map(() => []);
    const started = replicas.map(() => false);
    const subscriptions = replicas.map((replica, i) =>
      createLogbookClient({ url: replica.url, apiKey: replica.apiKey, retry: false }).events.onEvent.subscribe(
        {},
        {
          onStarted: () => (started[i] = true),
          onData: ({ data }) => {
            if (data.message?.startsWith(tag))
              expectDefined(received[i]).push({ id: data.id, sessionId: data.sessionId, seq: data.seq });
          },
        },
      ),
    );
    try {
      await waitFor("the three subscriptions to start", () => [...started], {
        deadlineMs: DEADLINE_MS,
        accept: (each) => each.every(Boolean),
      });

      // Ingest through the balancer: sessions in parallel, each session's batches one after another.
      const viaProxy: LogbookClient = createLogbookClient({
        url: proxy.url(),
        apiKey: expectDefined(replicas[0]).apiKey,
        retry: false,
      });
      const servedBefore = [...proxy.served];
      const sent = await Promise.all(
        Array.from({ length: SESSIONS }, async (_, s) => {
          const externalSessionId = `replicas-${tag}-${s}`;
          const ids: string[] = [];
          for (let b = 0; b < BATCHES_PER_SESSION; b++) {
            const events = Array.from({ length: EVENTS_PER_BATCH }, (_, e) => ({
              externalSessionId,
              eventType: "tick",
              message: `${tag} s${s} b${b} e${e}`,
            }));
            ids.push(...(await viaProxy.ingest(events)).ids);
          }
          return ids;
        }),
      );
      // Every replica took part of the ingest.
      expect(proxy.served.map((n, i) => n - expectDefined(servedBefore[i])).every((n) => n > 0)).toBe(true);

      const total = SESSIONS * BATCHES_PER_SESSION * EVENTS_PER_BATCH;
      await waitFor("every event on every replica", () => received.map((r) => r.length), {
        deadlineMs: DEADLINE_MS,
        accept: (counts) => counts.every((n) => n >= total),
      });
      for (const [i, events] of received.entries()) {
        const ids = events.map((e) => e.id);
        expect(new Set(ids).size, `replica ${i}: no event twice`).toBe(ids.length);
        expect(ids.length, `replica ${i}: every event`).toBe(total);
        for (const sessionIds of sent) {
          // Each session's events arrive in the order they were ingested.
          const wanted = new Set(sessionIds);
          expect(
            ids.filter((id) => wanted.has(id)),
            `replica ${i}: session order`,
          ).toEqual(sessionIds);
        }
        for (const sessionId of new Set(events.map((e) => e.sessionId))) {
          const seqs = events.filter((e) => e.sessionId === sessionId).map((e) => e.seq);
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        }
      }
    } finally {
      for (const subscription of subscriptions) subscription.unsubscribe();
    }
  });

  it("reads through the balancer see what any replica wrote", async () => {
    const viaProxy = createLogbookClient({ url: proxy.url(), apiKey: expectDefined(replicas[0]).apiKey, retry: false });
    const created = await viaProxy.sessions.create.mutate({ title: `anywhere-${randomUUID()}` });
    for (let i = 0; i < REPLICAS; i++) {
      // Round robin: these go to each replica in turn.
      expect((await viaProxy.sessions.get.query({ id: created.id })).title).toBe(created.title);
    }
  });
});

describe("the embedded PostgreSQL", () => {
  it("is not shared: a second server on the same home says to use DATABASE_URL instead", async () => {
    const home = await mkdtemp(join(tmpdir(), "logbook-replica-home-"));
    try {
      // What a running server on the embedded database leaves in its home (this test process stands in for it).
      const info = { pid: process.pid, url: "http://127.0.0.1:1", embeddedDatabaseUrl: "postgresql://x@127.0.0.1:1/x" };
      await writeFile(join(home, "server.json"), JSON.stringify(info), { mode: 0o600 });
      const second = spawnSync(process.execPath, [SERVER_ENTRY], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, LOGBOOK_HOME: home, PORT: "0", LOG_LEVEL: "info" },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(second.status).toBe(1);
      expect(second.stdout + second.stderr).toContain(`another logbook-server (pid ${process.pid}`);
      expect(second.stdout + second.stderr).toContain("DATABASE_URL");
      // An expected refusal with a way out: one line with the reason, no stack.
      expect(second.stdout + second.stderr).not.toContain('"stack"');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
