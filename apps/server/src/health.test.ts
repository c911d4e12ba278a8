import { createServer, type Server, type Socket } from "node:net";

import { createKnex } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

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

  it("answers from one probe while it is fresh, and probes again once it is not", async () => {
    let clock = 1_000_000;
    let queries = 0;
    const count = () => void queries++;
    db.knex.on("query", count);
    try {
      const health = createHealthCheck({ ...base, knex: db.knex, now: () => clock, maxAgeMs: 250 });
      const first = await Promise.all([health(), health(), health()]);
      expect(first.map((h) => h.status)).toEqual(["ok", "ok", "ok"]);
      const afterFirst = queries;
      expect(afterFirst).toBeGreaterThan(0);
      clock += 250;
      expect((await health()).status).toBe("ok");
      expect(queries).toBe(afterFirst); // still fresh: no query
      clock += 1;
      expect((await health()).status).toBe("ok");
      expect(queries).toBeGreaterThan(afterFirst); // stale: probed again
    } finally {
      db.knex.off("query", count);
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
