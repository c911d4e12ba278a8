import type { Knex } from "knex";

import { payloadTextFunctionSql } from "./20261202094516_faster_event_search_text.js";

/**
 * Search reads the words of the event kinds it missed (issue 16: "summaries" and every
 * session's words). Until now these payloads' text was neither searched nor shown:
 *
 * - a compaction's summary (`PostCompact`'s `compact_summary`) and the instructions given
 *   for it (`PreCompact`'s `custom_instructions`);
 * - the session's titles: Claude Code's generated one (an `ai-title` line's `aiTitle`; the
 *   first migration read `title`, which its lines do not have), the person's own
 *   (`custom-title`'s `customTitle`), a prompt hook's `session_title`;
 * - what a slash command expanded to (`UserPromptExpansion`'s `expanded_prompt`);
 * - tasks (`TaskCreated` and `TaskCompleted`: `subject`, `description`);
 * - the SDK's closing `result` line: the final answer.
 *
 * Each is read as the other top-level keys are (`lax $.<key>`, strings only), after
 * `error`; a payload without these keys gives exactly the text it gave before. Left out on
 * purpose: `last-prompt`'s `lastPrompt` and `MessageDisplay`'s `delta` repeat a prompt or a
 * reply that is searched already, so a search would find them twice.
 *
 * Only the function's body changes. `events.search_vector` is a stored generated column, so
 * rows stored before keep their vector until `logbook-server reindex-search` rewrites those
 * this changes (it looks at rows that have one of these keys, see `search-reindex.ts`).
 */
export const ADDED_TEXT_KEYS = [
  "compact_summary",
  "custom_instructions",
  "aiTitle",
  "customTitle",
  "session_title",
  "expanded_prompt",
  "subject",
  "description",
  "result",
] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(payloadTextFunctionSql("every-block", ADDED_TEXT_KEYS));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(payloadTextFunctionSql("every-block"));
}
