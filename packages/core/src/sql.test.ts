import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";

import { atBind, pgArray, rowsOf } from "./sql.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.destroy());

/** What PostgreSQL reads from a bind value: the literal we build, then the driver's own JS array. */
async function readBack(type: string, values: Array<string | number | boolean | null>) {
  const first = async (binding: unknown) =>
    rowsOf(await db.knex.raw(`SELECT ?::${type}[] AS a`, [binding as string]))[0]?.a;
  return { ours: await first(pgArray(values)), drivers: await first(values) };
}

describe("pgArray", () => {
  it("is read by PostgreSQL as the same text array as the driver's, quotes, backslashes and NULLs included", async () => {
    const values = [
      "plain",
      "",
      "NULL",
      'a "quoted" word',
      "back\\slash\\",
      '\\"',
      "{braces},commas",
      "  spaced  ",
      "naïve 🚀 text\nwith a newline",
      null,
    ];
    const { ours, drivers } = await readBack("text", values);
    expect(ours).toEqual(values);
    expect(ours).toEqual(drivers);
  });

  it("carries numbers, booleans, uuids and timestamps as their texts", async () => {
    expect((await readBack("bigint", [1, 9007199254740991, null])).ours).toEqual(["1", "9007199254740991", null]);
    expect((await readBack("int", [0, -3])).ours).toEqual([0, -3]);
    expect((await readBack("boolean", [true, false, null])).ours).toEqual([true, false, null]);
    const id = "0193a3c4-0000-7000-8000-000000000001";
    expect((await readBack("uuid", [id])).ours).toEqual([id]);
    const at = "2026-12-02T06:30:00.123Z";
    const { ours, drivers } = await readBack("timestamptz", [at]);
    expect(ours).toEqual(drivers);
    expect((ours as Date[])[0]?.toISOString()).toBe(at);
  });

  it("makes an empty array", () => {
    expect(pgArray([])).toBe("{}");
  });
});

describe("atBind", () => {
  it("sends what it makes when the statement is sent, a null as NULL, again on every send", async () => {
    let made = 0;
    const values = ["a", 'with "quotes"', null];
    const column = atBind(() => {
      made += 1;
      return pgArray(values);
    });
    const nothing = atBind(() => null);
    expect(made).toBe(0);
    const read = async () =>
      rowsOf(
        await db.knex.raw(`SELECT ?::text[] AS a, ?::jsonb AS n`, [
          column as unknown as string,
          nothing as unknown as string,
        ]),
      )[0];
    expect(await read()).toEqual({ a: values, n: null });
    expect(await read()).toEqual({ a: values, n: null });
    expect(made).toBe(2);
  });
});
