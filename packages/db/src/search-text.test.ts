import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { hookFixtures, readJsonl, transcriptFixtures } from "@logbook/fixtures";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { payloadTextByPathsSql, SEARCH_TEXT_MAX_CHARS } from "./migrations/20261201154107_add_event_search.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

/**
 * `20261202094516_faster_event_search_text` replaced the bodies of the two search-text
 * functions without touching the generated column: every stored `search_vector` stays valid
 * only if the new bodies give, for every input, exactly the text the old ones gave. The old
 * ones are recreated here from the first migration's own SQL and both are run side by side.
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

describe("search text: the faster functions give the old text exactly", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.knex.raw(`
      CREATE FUNCTION old_payload_text(payload jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
        ${payloadTextByPathsSql()}
      $fn$;
      CREATE FUNCTION old_search_text(message text, payload jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
        SELECT left(concat_ws(' ', left(message, ${SEARCH_TEXT_MAX_CHARS}), old_payload_text(payload)), ${SEARCH_TEXT_MAX_CHARS})
      $fn$;
    `);
  });
  afterAll(async () => db.destroy());

  /** The cases whose texts differ, with both texts (none expected). */
  async function differences(cases: Array<{ message: string | null; payload: Json }>) {
    const result = await db.knex.raw<{
      rows: Array<{
        i: string;
        old: string | null;
        new: string | null;
        old_payload: string | null;
        new_payload: string | null;
      }>;
    }>(
      // Each payload travels as its JSON text inside the document and is parsed on its own.
      `WITH c AS (SELECT v ->> 'message' AS message, (v ->> 'payload')::jsonb AS payload, i
                  FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS e(v, i))
       SELECT c.i, old_search_text(c.message, c.payload) AS old, logbook_event_search_text(c.message, c.payload) AS new,
              old_payload_text(c.payload) AS old_payload, logbook_event_payload_text(c.payload) AS new_payload
       FROM c`,
      [JSON.stringify(cases)],
    );
    return result.rows
      .filter((r) => r.old !== r.new || r.old_payload !== r.new_payload)
      .map((r) => ({
        payload: cases[Number(r.i) - 1]?.payload.slice(0, 2000),
        old: r.old_payload,
        new: r.new_payload,
      }));
  }

  it("is the new body that runs (PL/pgSQL), not the old one", async () => {
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
    const cases = [...hookFixtures(), ...lines].map((payload, i) => ({
      message: i % 3 === 0 ? null : `Bash: line ${i}`,
      payload: jsonForPostgres(payload),
    }));
    expect(cases.length).toBeGreaterThan(100);
    expect(await differences(cases)).toEqual([]);
  });

  it("on the odd shapes each path rule is about", async () => {
    const cases = ODD.map((payload, i) => ({ message: i % 2 === 0 ? null : "", payload }));
    expect(await differences(cases)).toEqual([]);
    // The quirk kept on purpose: a tool call after a text block is not read from the payload.
    const quirk = await db.knex.raw<{ rows: Array<{ t: string }> }>(
      "SELECT logbook_event_payload_text(?::jsonb) AS t",
      [expectDefined(ODD[11], "the text-then-tool-call case")],
    );
    expect(quirk.rows[0]?.t).toBe("said");
  });

  it("on 4,000 random payloads of Claude Code's shape with odd values", async () => {
    const next = random(16);
    const cases = Array.from({ length: 4000 }, (_, i) => ({
      message: i % 4 === 0 ? null : randomJson(next, 0),
      payload: randomPayload(next),
    }));
    expect(await differences(cases)).toEqual([]);
  });

  it("at the limits: a 1 MB tool result, 20,000 strings, the 65,536-character cut", async () => {
    expect(await differences(hugeCases())).toEqual([]);
  });
});
