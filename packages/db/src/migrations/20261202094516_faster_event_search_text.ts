import type { Knex } from "knex";

import {
  payloadTextByPathsSql,
  SEARCH_TEXT_MAX_CHARS,
  textKeyPath,
  type ToolInputRule,
} from "./20261201154107_add_event_search.js";

/**
 * The same search text, made cheaper (issue 16: what the index costs ingest). Only the two
 * functions' bodies change (and a small helper is added), each giving exactly the text it
 * gave before for every input, so the generated `events.search_vector` of every stored row
 * stays what it is: no table DDL, no rewrite, no index rebuild (`search-text.test.ts`
 * compares the old and new functions on the fixtures, random payloads and odd shapes).
 *
 * Why it was slow: `logbook_event_payload_text` was a SQL function that cannot be inlined
 * (an aggregate over a join), so every row ran a small plan — `unnest` of 14 JSON paths, a
 * `jsonb_path_query` function scan per path, `string_agg` — and `logbook_event_search_text`
 * around it could not be inlined either (`concat_ws` is only STABLE), a second plan per row.
 *
 * Now both are PL/pgSQL, whose expressions are planned once per connection: a payload that
 * is an object is read with plain jsonb operators, key by key, in the paths' order, with
 * the paths' own rules; only the recursive `.**` parts (every string of a tool call's input,
 * `tool_input`, `tool_response`) still use one JSON path each, and only when present. Any
 * other payload (an array or scalar at the top, `message` an array) goes to the old query,
 * whose rules (lax unwrapping at each step) are then the ones that apply.
 *
 * The old rules kept on purpose, quirks included, because the stored vectors were made
 * with them: `strict $.message.content[*].input.**` stops at the first content block
 * without an `input` (a strict path's error ends it, keeping what it found), so a tool
 * call after a text block is not read from the payload (its timeline text still is);
 * lax steps unwrap one level of array; `.text` values of any type count (a number's text,
 * an object's JSON), JSON nulls do not. (`20261203070000_search_every_tool_input` then reads
 * the tool calls after a text block too: the one rule that changes.)
 */

// Knex reads `?` as a binding: the jsonb `?` operator is not used, jsonpath's is escaped, and no comment in the SQL has one.
const STRINGS_BELOW = `'strict $.** \\? (@.type() == "string")'`;
const MAX = SEARCH_TEXT_MAX_CHARS;

const TOOL_INPUT_RULES: Record<ToolInputRule, string> = {
  "up-to-first-without": "up to the first block without input (strict $.message.content[*].input.**).",
  "every-block": "every block that has an input, in order; the others are skipped.",
};

/** The top-level keys read as `lax $.<key>`, strings only, in this order (later migrations add to them). */
const TEXT_KEYS = ["summary", "title", "content", "prompt", "message", "last_assistant_message", "error"];

/**
 * `logbook_event_payload_text` as this migration makes it, with the given rule for tool
 * inputs (`20261203070000_search_every_tool_input` makes it again with the other one) and
 * top-level keys read after `error` (`20261204100000_search_titles_and_summaries`).
 */
export function payloadTextFunctionSql(toolInputs: ToolInputRule, textKeys: readonly string[] = []): string {
  const keys = [...TEXT_KEYS, ...textKeys].map((key) => {
    textKeyPath(key); // the same check as the paths': a plain identifier
    return `'${key}'`;
  });
  return `
    CREATE OR REPLACE FUNCTION logbook_event_payload_text(payload jsonb) RETURNS text
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $fn$
    DECLARE
      parts text[] := '{}';
      m jsonb := payload -> 'message';
      c jsonb;
      blocks jsonb;
      e jsonb;
      cc jsonb;
      val jsonb;
      k text;
      n int;
    BEGIN
      IF jsonb_typeof(payload) IS DISTINCT FROM 'object' OR jsonb_typeof(m) = 'array' THEN
        RETURN (${payloadTextByPathsSql(toolInputs, textKeys)});
      END IF;
      -- The five paths under $.message, one after the other (message is an object or absent).
      c := m -> 'content';
      -- lax $.message.content, strings only.
      IF c IS NOT NULL THEN
        parts := parts || logbook_json_strings(c);
      END IF;
      -- The other four find nothing under a string, a number, a boolean or null.
      IF jsonb_typeof(c) IN ('array', 'object') THEN
        -- A lax step reads an object as it reads a one-element array of it.
        blocks := CASE WHEN jsonb_typeof(c) = 'array' THEN c ELSE jsonb_build_array(c) END;
        n := jsonb_array_length(blocks);
        -- lax $.message.content.text: each object block's text, whatever its type.
        FOR i IN 0 .. n - 1 LOOP
          parts := parts || (blocks -> i -> 'text' #>> '{}');
        END LOOP;
        -- The tool calls' inputs, strings only (every string below each), from an array's
        -- blocks only (strict [*] finds nothing in an object): ${TOOL_INPUT_RULES[toolInputs]}
        IF jsonb_typeof(c) = 'array' THEN
          FOR i IN 0 .. n - 1 LOOP
            e := blocks -> i;
            ${toolInputs === "every-block" ? "CONTINUE" : "EXIT"} WHEN jsonb_typeof(e) IS DISTINCT FROM 'object' OR e -> 'input' IS NULL;
            parts := parts || logbook_json_strings(jsonb_path_query_array(e -> 'input', ${STRINGS_BELOW}));
          END LOOP;
        END IF;
        -- lax $.message.content.content, strings only: each block's content.
        FOR i IN 0 .. n - 1 LOOP
          cc := blocks -> i -> 'content';
          IF cc IS NOT NULL THEN
            parts := parts || logbook_json_strings(cc);
          END IF;
        END LOOP;
        -- lax $.message.content.content.text: that content's text, or its object blocks' text.
        FOR i IN 0 .. n - 1 LOOP
          cc := blocks -> i -> 'content';
          IF jsonb_typeof(cc) = 'object' THEN
            parts := parts || (cc -> 'text' #>> '{}');
          ELSIF jsonb_typeof(cc) = 'array' THEN
            FOR j IN 0 .. jsonb_array_length(cc) - 1 LOOP
              parts := parts || (cc -> j -> 'text' #>> '{}');
            END LOOP;
          END IF;
        END LOOP;
      END IF;
      -- lax $.<key>, strings only.
      FOREACH k IN ARRAY ARRAY[${keys.join(", ")}] LOOP
        val := payload -> k;
        IF val IS NOT NULL THEN
          parts := parts || logbook_json_strings(val);
        END IF;
      END LOOP;
      -- strict $.<key>.**, strings only: every string below, in jsonb's order.
      FOREACH k IN ARRAY ARRAY['tool_input', 'tool_response'] LOOP
        val := payload -> k;
        IF jsonb_typeof(val) = 'string' THEN
          parts := parts || (val #>> '{}');
        ELSIF jsonb_typeof(val) IN ('object', 'array') THEN
          parts := parts || logbook_json_strings(jsonb_path_query_array(val, ${STRINGS_BELOW}));
        END IF;
      END LOOP;
      -- string_agg skipped NULLs and gave NULL for nothing at all.
      parts := array_remove(parts, NULL);
      IF cardinality(parts) = 0 THEN
        RETURN NULL;
      END IF;
      RETURN left(array_to_string(parts, ' '), ${MAX});
    END
    $fn$;`;
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- What a lax "strings only" filter keeps of a value: the value if a string, the string
    -- elements of an array (it looks one level in); so also all of a "strings below" result.
    CREATE FUNCTION logbook_json_strings(value jsonb) RETURNS text[]
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $fn$
    DECLARE
      strings text[] := '{}';
    BEGIN
      IF jsonb_typeof(value) = 'string' THEN
        RETURN ARRAY[value #>> '{}'];
      ELSIF jsonb_typeof(value) = 'array' THEN
        FOR j IN 0 .. jsonb_array_length(value) - 1 LOOP
          IF jsonb_typeof(value -> j) = 'string' THEN strings := strings || (value ->> j); END IF;
        END LOOP;
      END IF;
      RETURN strings;
    END
    $fn$;

    ${payloadTextFunctionSql("up-to-first-without")}
    CREATE OR REPLACE FUNCTION logbook_event_search_text(message text, payload jsonb) RETURNS text
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $fn$
    BEGIN
      RETURN left(concat_ws(' ', left(message, ${MAX}), logbook_event_payload_text(payload)), ${MAX});
    END
    $fn$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION logbook_event_payload_text(payload jsonb) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $fn$
      ${payloadTextByPathsSql()}
    $fn$;
    CREATE OR REPLACE FUNCTION logbook_event_search_text(message text, payload jsonb) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $fn$
      SELECT left(concat_ws(' ', left(message, ${MAX}), logbook_event_payload_text(payload)), ${MAX})
    $fn$;
    DROP FUNCTION logbook_json_strings(jsonb);
  `);
}
