import {
  CLAUDE_CODE_HOOK_FIELD_CHECKS,
  LIMITS,
  claudeCodeHookPayload,
  isClaudeCodeHookPayload,
} from "@logbook/contracts";
import { createTestDatabase } from "@logbook/db/testing";
import { hookFixtures } from "@logbook/fixtures";
import { v7 as uuidv7 } from "uuid";
import { describe, expect, it } from "vitest";

import { AppError } from "../errors.js";
import { sanitizeJsonForPostgres } from "../json.js";
import { HookService, parseHookPayload } from "./hook-service.js";

/**
 * `isClaudeCodeHookPayload` stands in for the schema on the hook ingest path (it builds no copy):
 * it must give the schema's answer for every value, or a payload would be accepted or refused
 * differently from what the contract says.
 */
const schemaSays = (value: unknown) => claudeCodeHookPayload.safeParse(value).success;

const nested = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
};

/** Values each field is tried with: every kind of JSON value, the limits and one past them. */
const TRIED: unknown[] = [
  undefined,
  null,
  true,
  0,
  1.5,
  "",
  "s",
  "PreToolUse",
  "Pre Tool",
  "1Stop",
  "a:b.c-d_e",
  "é",
  "a\u0000b",
  "\u0000",
  "x".repeat(LIMITS.shortText),
  "x".repeat(LIMITS.shortText + 1),
  "A" + "b".repeat(99),
  "A" + "b".repeat(100),
  "Stop\n",
  {},
  { a: 1 },
  [],
  ["x"],
  nested(LIMITS.maxJsonDepth - 1),
  nested(LIMITS.maxJsonDepth),
];

describe("isClaudeCodeHookPayload", () => {
  const base = { session_id: "s-1", hook_event_name: "PreToolUse", cwd: "/w", extra: { deep: [1, { b: 2 }] } };

  it("checks exactly the fields the schema names", () => {
    expect(Object.keys(CLAUDE_CODE_HOOK_FIELD_CHECKS).sort()).toEqual(
      Object.keys(claudeCodeHookPayload.out.shape).sort(),
    );
  });

  it("agrees with the schema for every field set to every kind of value, and missing", () => {
    const fields = [...Object.keys(CLAUDE_CODE_HOOK_FIELD_CHECKS), "unknown_field"];
    let accepted = 0;
    let refused = 0;
    for (const field of fields) {
      const { [field]: _dropped, ...without } = base as Record<string, unknown>;
      const cases = [without, ...TRIED.map((value) => ({ ...base, [field]: value }))];
      for (const payload of cases) {
        const expected = schemaSays(payload);
        expect({ field, payload, accepted: isClaudeCodeHookPayload(payload) }).toEqual({
          field,
          payload,
          accepted: expected,
        });
        if (expected) accepted++;
        else refused++;
      }
    }
    // Both answers were exercised many times, so neither side can be a constant.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(50);
  });

  it("agrees with the schema on what is not an object, on depth and on prototypes", () => {
    const deep = (levels: number) => ({ ...base, tool_input: nested(levels - 1) });
    class Payload {
      session_id = "s";
      hook_event_name = "Stop";
    }
    const values: unknown[] = [
      undefined,
      null,
      "{}",
      7,
      [],
      [base],
      new Payload(),
      new Date(0),
      Object.assign(Object.create(null) as object, base),
      JSON.parse('{"session_id":"s","hook_event_name":"Stop","__proto__":{"session_id":""}}'),
      deep(LIMITS.maxJsonDepth),
      deep(LIMITS.maxJsonDepth + 1),
      { ...base, list: [[[[]]]] },
    ];
    for (const value of values)
      expect({ value, accepted: isClaudeCodeHookPayload(value) }).toEqual({ value, accepted: schemaSays(value) });
    expect(isClaudeCodeHookPayload(deep(LIMITS.maxJsonDepth))).toBe(true);
    expect(isClaudeCodeHookPayload(deep(LIMITS.maxJsonDepth + 1))).toBe(false);
  });

  it("accepts every fixture payload, as the schema does", () => {
    const fixtures = hookFixtures();
    expect(fixtures.length).toBeGreaterThan(10);
    for (const payload of fixtures) {
      expect(schemaSays(payload)).toBe(true);
      expect(isClaudeCodeHookPayload(payload)).toBe(true);
    }
  });
});

describe("parseHookPayload", () => {
  it("answers with the payload object itself, and refuses with the schema's reasons", () => {
    const payload = { session_id: "s", hook_event_name: "Stop", extra: { a: [1] } };
    expect(parseHookPayload(payload)).toBe(payload);
    const refusal = (() => {
      try {
        parseHookPayload({ session_id: "", hook_event_name: "Stop" });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(AppError);
    expect((refusal as AppError).message).toContain("session_id");
  });
});

describe("HookService stores each payload's bytes as sent", () => {
  it("keeps every fixture payload's jsonb text equal to PostgreSQL's reading of the JSON sent", async () => {
    // (NUL and lone surrogates become U+FFFD on the way in, see json.ts.)
    const db = await createTestDatabase();
    try {
      const hooks = new HookService({ knex: db.knex });
      const fixtures = hookFixtures();
      const sent = fixtures.map((payload) => ({ id: uuidv7(), payload }));
      for (let i = 0; i < sent.length; i += 500) await hooks.ingest({ events: sent.slice(i, i + 500) });
      for (const { id, payload } of sent) {
        const { rows } = await db.knex.raw<{ rows: Array<{ stored: string; expected: string }> }>(
          "SELECT payload::text AS stored, ?::jsonb::text AS expected FROM events WHERE id = ?",
          [JSON.stringify(sanitizeJsonForPostgres(payload)), id],
        );
        expect(rows).toHaveLength(1);
        expect(rows[0]?.stored).toBe(rows[0]?.expected);
      }
    } finally {
      await db.destroy();
    }
  });
});
