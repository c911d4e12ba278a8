import { ADVISORY_LOCKS, createKnex } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { schedule } from "./scheduler.js";

/** How long a wait here may take before it fails naming what never came (tests have 180 s). */
const DEADLINE_MS = 60_000;

/** A logger that keeps the messages it is given (debug and up). */
function recordingLogger(lines: string[]) {
  return pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
}

describe("scheduled jobs on several replicas", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.destroy());

  it("run on one replica at a time: the others skip their turns while it runs", async () => {
    // Three replicas: three pools on one database, each scheduling the same job often.
    const pools = [db.knex, createKnex(db.url), createKnex(db.url)];
    const logs: string[][] = pools.map(() => []);
    const runs = pools.map(() => 0);
    let running = 0;
    let mostAtOnce = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let first: number | null = null;

    const schedulers = pools.map((knex, replica) =>
      schedule(
        "session-inactivity",
        5,
        async () => {
          running++;
          mostAtOnce = Math.max(mostAtOnce, running);
          runs[replica] = expectDefined(runs[replica]) + 1;
          first ??= replica;
          // The first run is held open until every other replica has been turned away twice.
          if (replica === first && runs[replica] === 1) await held;
          running--;
        },
        recordingLogger(expectDefined(logs[replica])),
        { exclusive: { knex, lock: ADVISORY_LOCKS.sessionInactivity } },
      ),
    );
    try {
      const skipped = (replica: number) =>
        expectDefined(logs[replica]).filter((l) => l.includes("another replica")).length;
      await waitFor("a first run", () => first, { deadlineMs: DEADLINE_MS, everyMs: 10, accept: (r) => r !== null });
      const others = [0, 1, 2].filter((r) => r !== first);
      await waitFor("each other replica turned away twice", () => others.map(skipped), {
        deadlineMs: DEADLINE_MS,
        everyMs: 10,
        accept: (counts) => counts.every((n) => n >= 2),
      });
      // While the first holds the job, nobody else ran it.
      expect(runs.reduce((a, b) => a + b, 0)).toBe(1);
      release();
      // Once it is done, the job goes on (on whichever replica gets the lock first).
      await waitFor("5 runs in all", () => [...runs], {
        deadlineMs: DEADLINE_MS,
        everyMs: 10,
        accept: (counts) => counts.reduce((a, b) => a + b, 0) >= 5,
      });
      expect(mostAtOnce).toBe(1);
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
      await Promise.all(pools.slice(1).map((knex) => knex.destroy()));
    }
  });
});

describe("a scheduled run that fails", () => {
  const runOnce = async (error: Error, databaseDown = false) => {
    const lines: string[] = [];
    const scheduler = schedule("failing", 5, () => Promise.reject(error), recordingLogger(lines), {
      databaseDown: () => databaseDown,
    });
    await waitFor("a log line", () => lines.length, { deadlineMs: DEADLINE_MS, everyMs: 10 });
    await scheduler.stop();
    return JSON.parse(expectDefined(lines[0])) as Record<string, unknown>;
  };

  it("is a warning while the database is away, naming the task and not the driver's error", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED /tmp/pg/.s.PGSQL.5432"), {
      code: "ECONNREFUSED",
      syscall: "connect",
    });
    const line = await runOnce(refused);
    expect(line).toMatchObject({
      level: 40,
      task: "failing",
      msg: "scheduled task skipped: the database is not available",
    });
    expect(line).not.toHaveProperty("err");
  });

  it("is a warning when the database error is wrapped by another", async () => {
    const terminated = new Error("Connection terminated unexpectedly");
    const wrapped = new Error("could not purge expired sign-ins", { cause: terminated });
    expect(await runOnce(wrapped)).toMatchObject({
      level: 40,
      msg: "scheduled task skipped: the database is not available",
    });
  });

  it("is a warning, whatever the error, while the server knows the database is down", async () => {
    const odd = new Error("Cannot read properties of undefined (reading 'rows')");
    expect(await runOnce(odd, true)).toMatchObject({ level: 40, task: "failing", reason: odd.message });
    expect(await runOnce(odd, false)).toMatchObject({ level: 50, msg: "scheduled task failed" });
  });

  it("is an error otherwise, logged without what the error object carries besides its message", async () => {
    const leaky = Object.assign(new Error('relation "nothing" does not exist'), {
      code: "42P01",
      client: { config: { connection: { connectionString: "postgresql://logbook_app:s3cret-pass@db/logbook" } } },
    });
    const line = await runOnce(leaky);
    expect(line).toMatchObject({
      level: 50,
      task: "failing",
      msg: "scheduled task failed",
      err: { name: "Error", code: "42P01", message: 'relation "nothing" does not exist' },
    });
    expect(JSON.stringify(line)).not.toContain("s3cret-pass");
  });
});
