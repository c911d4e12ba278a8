import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { defaultPoolSettings } from "./config.js";
import { createKnex } from "./connection.js";
import { runPrepared } from "./prepared.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

const ADD = { name: "prepared_test_add", text: "SELECT $1::int + $2::int AS sum, $3::text[] AS list" };
const FAIL = { name: "prepared_test_fail", text: "SELECT 1 / $1::int AS never" };

describe("runPrepared", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.destroy());

  it("answers the rows, prepares once per connection, and gives the connection back (a pool of one)", async () => {
    const knex = createKnex(db.url, ONE_CONNECTION);
    try {
      const seen: Array<{ sql: string; bindings: unknown }> = [];
      knex.on("query", (q: { sql: string; bindings: unknown }) => seen.push(q));
      for (let i = 0; i < 3; i++) {
        expect(await runPrepared(knex, ADD, [i, 2, ["a", null]])).toEqual([{ sum: i + 2, list: ["a", null] }]);
      }
      // Every call is announced like a knex query (what statement counts listen to).
      expect(seen).toHaveLength(3);
      expect(seen[0]).toMatchObject({ sql: ADD.text, bindings: [0, 2, ["a", null]] });
      // The same (only) connection holds the statement, parsed once.
      const prepared = await knex.raw<{ rows: Array<{ name: string }> }>(
        "SELECT name FROM pg_prepared_statements WHERE name = ?",
        [ADD.name],
      );
      expect(prepared.rows).toEqual([{ name: ADD.name }]);
    } finally {
      await knex.destroy();
    }
  });

  it("throws the driver's error with its SQLSTATE, without the values in the message, and frees the connection", async () => {
    const knex = createKnex(db.url, ONE_CONNECTION);
    try {
      const failure = await runPrepared(knex, FAIL, [0]).then(
        () => null,
        (error: unknown) => error as { code?: string; message: string },
      );
      expect(failure?.code).toBe("22012");
      expect(failure?.message).toBe("division by zero");
      // The pool's only connection came back: the next call gets it.
      expect(await runPrepared(knex, ADD, [1, 1, []])).toEqual([{ sum: 2, list: [] }]);
    } finally {
      await knex.destroy();
    }
  });
});

/** A pool of exactly one connection: one not given back would make the next call time out. */
const ONE_CONNECTION = { ...defaultPoolSettings, min: 1, max: 1, acquireTimeoutMs: 5_000 };
