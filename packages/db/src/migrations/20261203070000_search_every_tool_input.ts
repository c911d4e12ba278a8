import type { Knex } from "knex";

import { payloadTextFunctionSql } from "./20261202094516_faster_event_search_text.js";

/**
 * Search reads every tool call's input (issue 16). Until now the search text took tool
 * inputs from `message.content` only up to the first block without an `input`: a message
 * that says or thinks something and then calls a tool (`[{type: "text"}, {type:
 * "tool_use"}]`) had none of its tool inputs searchable, only the timeline line's tool and
 * main input. Claude Code's own transcripts mostly write one block a line (every one of the
 * ~1,200 block lists in the real corpus has one), but a response can be split differently,
 * and messages sent through the API or the SDK are whole. Now every block that has an
 * `input` counts, in order; everything else in the text is as before (`search-text.test.ts`).
 *
 * Only the function's body changes. `events.search_vector` is a stored generated column, so
 * rows stored before keep the vector the old body made until they are written again:
 * `logbook-server reindex-search` rewrites exactly the rows whose vector this changes, in
 * short batches, while the server runs. Doing it here would hold the migration (and a
 * server's start) for as long as the rewrite of every transcript line with a tool call takes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(payloadTextFunctionSql("every-block"));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(payloadTextFunctionSql("up-to-first-without"));
}
