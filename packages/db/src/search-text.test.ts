import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { hookFixtures, readJsonl, transcriptFixtures } from "@logbook/fixtures";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import {
  payloadTextByPathsSql,
  SEARCH_TEXT_MAX_CHARS,
  type ToolInputRule,
} from "./migrations/20261201154107_add_event_search.js";
import { payloadTextFunctionSql } from "./migrations/20261202094516_faster_event_search_text.js";
import { ADDED_TEXT_KEYS } from "./migrations/20261204100000_search_titles_and_summaries.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

/**
 * The search text is defined by JSON paths (`20261201154107_add_event_search`); the
 * functions that run are PL/pgSQL walks that give the same text faster
 * (`20261202094516_faster_event_search_text`), and `events.search_vector` is only right if
 * they do, for every input. Each walk is checked here against the paths it stands for, for
 * each text the migrations have made: the first rule of reading tool inputs (what rows
 * stored before `20261203070000_search_every_tool_input` hold until `reindex-search`), the
 * second, and the current one, which also reads the keys
 * `20261204100000_search_titles_and_summaries` added.
 */

/** A payload as JSON text (so numbers such as `1.50` or `1e3` reach PostgreSQL as written). */
type Json = string;

/** The payload's JSON as PostgreSQL takes it: no NUL, no lone surrogate (the server cleans both). */
function jsonForPostgres(value: unknown): Json {
  return JSON.stringify(value)
    .replace(/(?<!\\)\\u0000/g, "")
    .replace(/\\ud[89a-f][0-9a-f]{2}/gi, "\\ufffd");
}

/** Seeded, so a failure names a payload that the next run builds again. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    // A linear congruential step (Numerical Recipes' constants): enough spread for shapes.
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

// The keys the paths read, and some they do not; every length, so jsonb's key order (by
// length, then bytes) differs from the order written.
const KEYS = [
  "message",
  "content",
  "text",
  "input",
  "type",
  "summary",
  "title",
  "prompt",
  "last_assistant_message",
  "error",
  "compact_summary",
  "aiTitle",
  "tool_input",
  "tool_response",
  "a",
  "zz",
  "file_path",
  "Ω",
];
const STRINGS = [
  "",
  " ",
  "fix the failing test",
  "Grüße, 東京 🚀",
  'quote " and \\ backslash',
  "{not json}",
  "null",
  "multi\nline\ttext",
];
const NUMBERS = ["0", "-0", "1.50", "1e3", "-12.25", "123456789012345678901234567890"];

function randomJson(next: () => number, depth: number): Json {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const roll = next();
  if (depth <= 0 || roll < 0.35) {
    const scalar = next();
    if (scalar < 0.55) return JSON.stringify(pick(STRINGS));
    if (scalar < 0.75) return pick(NUMBERS);
    if (scalar < 0.87) return pick(["true", "false"]);
    return "null";
  }
  const size = Math.floor(next() * 4);
  if (roll < 0.6) {
    return `[${Array.from({ length: size }, () => randomJson(next, depth - 1)).join(",")}]`;
  }
  const keys = new Set(Array.from({ length: size + 1 }, () => pick(KEYS)));
  return `{${[...keys].map((k) => `${JSON.stringify(k)}:${randomJson(next, depth - 1)}`).join(",")}}`;
}

/** Payloads shaped like Claude Code's, with the searched keys at their places and odd values there. */
function randomPayload(next: () => number): Json {
  const value = () => randomJson(next, 3);
  const shape = next();
  if (shape < 0.05) return value(); // anything at the top: an array, a scalar
  const fields: string[] = [];
  if (next() < 0.6) {
    const blocks = Array.from({ length: Math.floor(next() * 4) }, () => {
      const block: string[] = [
        `"type":${JSON.stringify(["text", "tool_use", "tool_result", "thinking"][Math.floor(next() * 4)])}`,
      ];
      if (next() < 0.5) block.push(`"text":${value()}`);
      if (next() < 0.5) block.push(`"input":${value()}`);
      if (next() < 0.4)
        block.push(`"content":${next() < 0.5 ? value() : `[{"type":"text","text":${value()}},${value()}]`}`);
      return next() < 0.9 ? `{${block.join(",")}}` : value();
    });
    const content = next() < 0.7 ? `[${blocks.join(",")}]` : next() < 0.5 ? (blocks[0] ?? value()) : value();
    fields.push(next() < 0.9 ? `"message":{"role":"assistant","content":${content}}` : `"message":${value()}`);
  }
  for (const key of [
    "summary",
    "title",
    "content",
    "prompt",
    "last_assistant_message",
    "error",
    ...ADDED_TEXT_KEYS,
    "tool_input",
    "tool_response",
  ]) {
    if (next() < 0.25) fields.push(`${JSON.stringify(key)}:${value()}`);
  }
  return `{${fields.join(",")}}`;
}

/** Hand-made cases: the shapes each rule of the paths is about, and the limits. */
const ODD: Json[] = [
  "{}",
  "[]",
  '"a string"',
  "42",
  "null",
  '[{"prompt":"first"},{"prompt":["second","third",["nested"]]},"x"]',
  '{"message":[{"content":"in an array"},{"content":[{"text":"b"}]}]}',
  '{"message":"a notification"}',
  '{"message":{"content":"plain"}}',
  '{"message":{"content":["one","two",["three"],{"text":"four"}]}}',
  '{"message":{"content":{"text":"single block","content":[{"text":"inner"},"s"]}}}',
  '{"message":{"content":[{"type":"text","text":"said"},{"type":"tool_use","input":{"command":"ls"}}]}}',
  '{"message":{"content":[{"type":"tool_use","input":{"command":"ls","b":["x",{"c":"y"}]}},{"type":"text","text":"t"},{"input":"late"}]}}',
  '{"message":{"content":[{"input":"a bare string input"},{"input":null},{"input":7},{"input":"after"}]}}',
  '{"message":{"content":[{"text":{"an":"object"}},{"text":[1,"two"]},{"text":null},{"text":""},{"text":1.50},{"text":true}]}}',
  '{"message":{"content":[{"type":"tool_result","content":"out"},{"content":[{"text":"a"},"b",{"text":null},["c"]]},{"content":{"text":"d"}}]}}',
  '{"message":{"content":null},"content":["x","y",3],"summary":["s",null],"title":5,"error":"",' +
    '"last_assistant_message":"done","prompt":"do it"}',
  '{"tool_input":{"bb":"x","a":"y","ccc":{"a":"z"},"d":[1,"w",null,true]},"tool_response":"just a string"}',
  '{"tool_input":["a",["b",["c"]]],"tool_response":{"stdout":"","stderr":"boom","interrupted":false}}',
  '{"tool_input":null,"tool_response":123}',
];

function hugeCases(): Array<{ message: string | null; payload: Json }> {
  const mb = "lorem ipsum dolor sit amet ".repeat(40_000); // ~1 MB
  const wide = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, `value ${i}`]));
  const multibyte = "ü東🚀".repeat(30_000); // the cut falls inside runs of multi-byte characters
  return [
    { message: "Read: big.txt", payload: jsonForPostgres({ tool_response: { file: { content: mb } } }) },
    { message: null, payload: jsonForPostgres({ tool_response: wide }) },
    { message: multibyte, payload: jsonForPostgres({ prompt: multibyte }) },
    { message: "x".repeat(SEARCH_TEXT_MAX_CHARS + 10), payload: jsonForPostgres({ prompt: "after the cut" }) },
    { message: "x".repeat(SEARCH_TEXT_MAX_CHARS - 1), payload: jsonForPostgres({ prompt: "at the cut" }) },
  ];
}

/** Each text the migrations have made: the tool-input rule, and the top-level keys read after `error`. */
interface Variant {
  name: string;
  rule: ToolInputRule;
  keys: readonly string[];
}
const VARIANTS: Variant[] = [
  { name: "first_without", rule: "up-to-first-without", keys: [] },
  { name: "every_block", rule: "every-block", keys: [] },
  { name: "current", rule: "every-block", keys: ADDED_TEXT_KEYS },
];
const variant = (name: string) => expectDefined(VARIANTS.find((v) => v.name === name));
const fnName = (kind: "paths" | "walk", v: Variant) => `${kind}_${v.name}`;

describe("search text: each walk gives its paths' text exactly", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    for (const v of VARIANTS) {
      await db.knex.raw(`
        CREATE FUNCTION ${fnName("paths", v)}(payload jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
          ${payloadTextByPathsSql(v.rule, v.keys)}
        $fn$;
        ${payloadTextFunctionSql(v.rule, v.keys).replace("FUNCTION logbook_event_payload_text(", `FUNCTION ${fnName("walk", v)}(`)}
      `);
    }
  });
  afterAll(async () => db.destroy());

  /** The payloads (by index) whose texts differ between two functions, with both texts. */
  async function differences(cases: Json[], left: string, right: string) {
    const result = await db.knex.raw<{ rows: Array<{ i: string; a: string | null; b: string | null }> }>(
      // Each payload travels as its JSON text inside the document and is parsed on its own.
      `WITH c AS (SELECT (v #>> '{}')::jsonb AS payload, i FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS e(v, i))
       SELECT c.i, ${left}(c.payload) AS a, ${right}(c.payload) AS b FROM c`,
      [JSON.stringify(cases)],
    );
    return result.rows
      .filter((r) => r.a !== r.b)
      .map((r) => ({ payload: cases[Number(r.i) - 1]?.slice(0, 2000), [left]: r.a, [right]: r.b }));
  }

  /** For each variant, the walk against the paths; and the migrated function against the current walk. */
  async function expectAllAgree(cases: Json[]) {
    for (const v of VARIANTS) {
      expect(await differences(cases, fnName("paths", v), fnName("walk", v))).toEqual([]);
    }
    expect(await differences(cases, "logbook_event_payload_text", fnName("walk", variant("current")))).toEqual([]);
  }

  const textOf = async (fn: string, payload: Json) => {
    const result = await db.knex.raw<{ rows: Array<{ t: string | null }> }>(`SELECT ${fn}(?::jsonb) AS t`, [payload]);
    return result.rows[0]?.t;
  };

  it("is a walk in PL/pgSQL that runs, not the paths", async () => {
    const result = await db.knex.raw<{ rows: Array<{ proname: string; lanname: string }> }>(
      `SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
       WHERE p.proname IN ('logbook_event_payload_text', 'logbook_event_search_text') ORDER BY 1`,
    );
    expect(result.rows).toEqual([
      { proname: "logbook_event_payload_text", lanname: "plpgsql" },
      { proname: "logbook_event_search_text", lanname: "plpgsql" },
    ]);
  });

  it("on every hook payload and transcript line of the fixtures", async () => {
    const set = transcriptFixtures();
    const lines = set.files.flatMap((file) => readJsonl(`${set.root}/${file}`));
    const cases = [...hookFixtures(), ...lines].map((payload) => jsonForPostgres(payload));
    expect(cases.length).toBeGreaterThan(100);
    await expectAllAgree(cases);
  });

  it("on the odd shapes each path rule is about", async () => {
    await expectAllAgree(ODD);
  });

  it("reads a tool call after a text or thinking block now, and did not before", async () => {
    const textThenTool = expectDefined(ODD[11], "the text-then-tool-call case");
    expect(await textOf(fnName("walk", variant("first_without")), textThenTool)).toBe("said");
    expect(await textOf("logbook_event_payload_text", textThenTool)).toBe("said ls");
    const thinkingThenTools = jsonForPostgres({
      message: {
        content: [
          { type: "thinking", thinking: "not searched" },
          { type: "tool_use", input: { file_path: "/src/alpha.ts" } },
          "a bare string block",
          { type: "text", text: "between" },
          { type: "tool_use", input: { pattern: "beta", path: ["gamma"] } },
        ],
      },
    });
    expect(await textOf(fnName("walk", variant("first_without")), thinkingThenTools)).toBe(
      "a bare string block between",
    );
    expect(await textOf("logbook_event_payload_text", thinkingThenTools)).toBe(
      "a bare string block between /src/alpha.ts gamma beta",
    );
  });

  it("reads titles, compaction summaries, tasks and results now, after `error` and before the tool's text", async () => {
    const postCompact = jsonForPostgres({
      hook_event_name: "PostCompact",
      trigger: "auto",
      compact_summary: "endOfMonth now works in UTC",
    });
    expect(await textOf(fnName("walk", variant("every_block")), postCompact)).toBeNull();
    expect(await textOf("logbook_event_payload_text", postCompact)).toBe("endOfMonth now works in UTC");
    const aiTitle = jsonForPostgres({ type: "ai-title", aiTitle: "Fix month-end totals", sessionId: "s" });
    expect(await textOf(fnName("walk", variant("every_block")), aiTitle)).toBeNull();
    expect(await textOf("logbook_event_payload_text", aiTitle)).toBe("Fix month-end totals");
    const everything = jsonForPostgres({
      tool_input: { command: "ls" },
      result: "final answer",
      subject: ["task one", 7, "task two"],
      description: { not: "a string" },
      error: "boom",
      prompt: "asked",
    });
    expect(await textOf("logbook_event_payload_text", everything)).toBe("asked boom task one task two final answer ls");
  });

  it("takes only plain keys into the paths and the walk", () => {
    expect(() => payloadTextByPathsSql("every-block", ["a'b"])).toThrow(/not a plain key/);
    expect(() => payloadTextFunctionSql("every-block", ["x ? y"])).toThrow(/not a plain key/);
  });

  it("on 4,000 random payloads of Claude Code's shape with odd values", async () => {
    const next = random(16);
    const cases = Array.from({ length: 4000 }, () => randomPayload(next));
    await expectAllAgree(cases);
  });

  it("at the limits: a 1 MB tool result, 20,000 strings, the 65,536-character cut", async () => {
    const cases = hugeCases();
    await expectAllAgree(cases.map((c) => c.payload));
    // The whole search text, the message first and then the payload's, is cut the same way.
    const result = await db.knex.raw<{ rows: Array<{ i: string; same: boolean }> }>(
      `WITH c AS (SELECT v ->> 'message' AS message, (v ->> 'payload')::jsonb AS payload, i
                  FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS e(v, i))
       SELECT i, logbook_event_search_text(message, payload) = left(concat_ws(' ', left(message, ${SEARCH_TEXT_MAX_CHARS}),
                 ${fnName("paths", variant("current"))}(payload)), ${SEARCH_TEXT_MAX_CHARS}) AS same
       FROM c ORDER BY i`,
      [JSON.stringify(cases)],
    );
    expect(result.rows.map((r) => r.same)).toEqual(cases.map(() => true));
  });
});
