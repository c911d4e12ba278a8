import type { Knex } from "knex";

/**
 * Full-text search over events (issue 16), kept by PostgreSQL itself so the ingest
 * statement needs no change: a generated `search_vector` column with a GIN index, and a
 * trigram index on the head of the timeline text for what words do not split (paths,
 * identifiers, parts of commands).
 *
 * - What is searched: the event's `message` (the client's, or the timeline text made at
 *   ingest) and, from the payload, what was said and done: a prompt or reply's text, a tool
 *   call's input, a tool result, a summary or title, a hook's prompt, tool input and
 *   response, notification message and last assistant message. Ids, paths of the
 *   transcript file, versions and the like are left out: they would match everything.
 * - The text is cut at SEARCH_TEXT_MAX_CHARS: a tsvector keeps word positions up to 16383
 *   only and refuses values over 1 MB, and a 1 MB tool result must not fail its ingest.
 * - `english` stems words, so "failing" finds "failed"; the search statement must use the
 *   same configuration (`websearch_to_tsquery('english', …)`).
 * - pg_trgm is a trusted extension (PostgreSQL 13+): the database owner, Logbook's own
 *   non-superuser role, may create it, and every role may use its operators.
 */
export const SEARCH_TEXT_MAX_CHARS = 65_536;
/** Characters of `message` the trigram index covers (a timeline line is at most 160). */
export const TRIGRAM_PREFIX_CHARS = 256;

/**
 * How the paths read tool calls' inputs in `message.content`. `up-to-first-without` is this
 * migration's rule (a strict path's error at the first block without an `input` ends it);
 * `every-block` is `20261203070000_search_every_tool_input`'s (every block that has one).
 */
export type ToolInputRule = "up-to-first-without" | "every-block";

const TOOL_INPUT_PATHS: Record<ToolInputRule, string> = {
  "up-to-first-without": 'strict $.message.content[*].input.** ? (@.type() == "string")',
  // A filter's error (`@.input` of a string or an array, in strict mode) is "unknown": skipped.
  "every-block": 'strict $.message.content[*] ? (exists(@.input)).input.** ? (@.type() == "string")',
};

/**
 * A top-level key a later migration adds to the text (`lax $.<key>`, strings only): a plain
 * identifier, so it goes into a JSON path and a SQL literal as it is.
 */
export function textKeyPath(key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`not a plain key for the search text: ${key}`);
  return `lax $.${key} ? (@.type() == "string")`;
}

/**
 * In this order: the text is these paths' values, path after path (later migrations keep it
 * so). `textKeys`: top-level keys a later migration reads too, after `error` (none here).
 */
const searchedPaths = (toolInputs: ToolInputRule, textKeys: readonly string[]) => [
  // Transcript lines: the message's text, tool calls' inputs, tool results.
  'lax $.message.content ? (@.type() == "string")',
  "lax $.message.content.text",
  TOOL_INPUT_PATHS[toolInputs],
  'lax $.message.content.content ? (@.type() == "string")',
  "lax $.message.content.content.text",
  // Summaries, titles, system lines.
  'lax $.summary ? (@.type() == "string")',
  'lax $.title ? (@.type() == "string")',
  'lax $.content ? (@.type() == "string")',
  // Hook payloads.
  'lax $.prompt ? (@.type() == "string")',
  'lax $.message ? (@.type() == "string")',
  'lax $.last_assistant_message ? (@.type() == "string")',
  'lax $.error ? (@.type() == "string")',
  ...textKeys.map(textKeyPath),
  'strict $.tool_input.** ? (@.type() == "string")',
  'strict $.tool_response.** ? (@.type() == "string")',
];

/**
 * The query that reads the searched text of `payload` with the JSON paths above (the body of
 * `logbook_event_payload_text` as created here, with the default rule;
 * `20261202094516_faster_event_search_text` and its successor keep it for the shapes their
 * own walk leaves to it, and to go back to).
 */
export function payloadTextByPathsSql(
  toolInputs: ToolInputRule = "up-to-first-without",
  textKeys: readonly string[] = [],
): string {
  // Quoted as SQL literals; `\\?` keeps Knex from taking jsonpath's `?` for a binding.
  const paths = searchedPaths(toolInputs, textKeys)
    .map((p) => `'${p.replace(/'/g, "''").replace(/\?/g, "\\?")}'`)
    .join(",\n      ");
  return `SELECT left(string_agg(v #>> '{}', ' '), ${SEARCH_TEXT_MAX_CHARS})
      FROM unnest(ARRAY[
      ${paths}
      ]::jsonpath[]) AS p(path),
      LATERAL jsonb_path_query(payload, p.path, '{}', true) AS v`;
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE EXTENSION IF NOT EXISTS pg_trgm;

    -- IMMUTABLE (it reads nothing but its arguments), as a generated column requires. The
    -- 'silent' flag makes a path that does not apply yield nothing instead of an error.
    CREATE FUNCTION logbook_event_payload_text(payload jsonb) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $fn$
      ${payloadTextByPathsSql()}
    $fn$;
    -- The timeline text too: a client's own message, a tool call's "Bash: …" (the tool's name).
    CREATE FUNCTION logbook_event_search_text(message text, payload jsonb) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $fn$
      SELECT left(concat_ws(' ', left(message, ${SEARCH_TEXT_MAX_CHARS}), logbook_event_payload_text(payload)),
        ${SEARCH_TEXT_MAX_CHARS})
    $fn$;

    ALTER TABLE events ADD COLUMN search_vector tsvector
      GENERATED ALWAYS AS (to_tsvector('english', logbook_event_search_text(message, payload))) STORED;
    CREATE INDEX events_search_idx ON events USING gin (search_vector);
    CREATE INDEX events_message_trgm_idx ON events USING gin (left(message, ${TRIGRAM_PREFIX_CHARS}) gin_trgm_ops);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX events_message_trgm_idx;
    DROP INDEX events_search_idx;
    ALTER TABLE events DROP COLUMN search_vector;
    DROP FUNCTION logbook_event_search_text(text, jsonb);
    DROP FUNCTION logbook_event_payload_text(jsonb);
    DROP EXTENSION IF EXISTS pg_trgm;
  `);
}
