import { createServer, type Server, type Socket } from "node:net";

import { createKnex } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { createHealthCheck } from "./health.js";

const base = { embedded: false, version: "test", startedAt: Date.now() };

describe("health check", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.destroy();
  });

  it("answers from one probe while it is fresh; a stale one answers while a new probe runs; an old one is waited for", async () => {
    let clock = 1_000_000;
    let answered = 0;
    const count = () => void answered++;
    db.knex.on("query-response", count);
    try {
      const health = createHealthCheck({
        ...base,
        knex: db.knex,
        now: () => clock,
        maxAgeMs: 250,
        // Far above what a probe takes even on a loaded machine: a probe that timed out
        // would answer "degraded", and its queries' late answers would count below.
        probeTimeoutMs: 60_000,
      });
      const first = await Promise.all([health(), health(), health()]);
      expect(first.map((h) => h.status)).toEqual(["ok", "ok", "ok"]);
      const afterFirst = answered;
      expect(afterFirst).toBeGreaterThan(0);
      clock += 250;
      expect((await health()).status).toBe("ok");
      expect(answered).toBe(afterFirst); // still fresh: no query
      clock += 1;
      // Stale: answered from the cached probe without waiting for the database (a query's
      // answer needs I/O, which cannot happen before this await resumes)...
      expect((await health()).status).toBe("ok");
      expect(answered).toBe(afterFirst);
      // ...while a new probe runs in the background.
      await vi.waitFor(() => expect(answered).toBeGreaterThan(afterFirst), { timeout: 60_000 });
      // Older than maxAgeMs + probeTimeoutMs (an idle server): the answer waits for a probe.
      clock += 61_000;
      const beforeOld = answered;
      expect((await health()).status).toBe("ok");
      expect(answered).toBeGreaterThan(beforeOld);
    } finally {
      db.knex.off("query-response", count);
    }
  });

  it("reports a database the server knows is down at once, even with a fresh probe cached", async () => {
    let down = false;
    const health = createHealthCheck({ ...base, knex: db.knex, databaseDown: () => down, maxAgeMs: 60_000 });
    expect((await health()).status).toBe("ok");
    down = true;
    expect(await health()).toMatchObject({ status: "degraded", database: { reachable: false } });
    down = false;
    expect((await health()).status).toBe("ok");
  });

  it("reports a database that does not answer as unreachable after the probe timeout, without queueing probes", async () => {
    // A real listener that accepts and never answers: a hung PostgreSQL, as the pool sees it.
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const knex = createKnex(`postgres://logbook@127.0.0.1:${port}/none`, {
      min: 0,
      max: 2,
      acquireTimeoutMs: 20_000,
      idleTimeoutMs: 1_000,
      statementTimeoutMs: 1_000,
    });
    let clock = 0;
    try {
      const health = createHealthCheck({ ...base, knex, now: () => clock, maxAgeMs: 0, probeTimeoutMs: 200 });
      expect(await health()).toMatchObject({ status: "degraded", database: { reachable: false } });
      clock += 1;
      // The first probe still hangs: the next answer comes at once, and no second probe connects.
      expect(await health()).toMatchObject({ status: "degraded", database: { reachable: false } });
      expect(sockets.length).toBe(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await knex.destroy().catch(() => undefined);
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
