import { z } from "zod";

import {
  page,
  pageInput,
  RANGE_OUT_OF_ORDER,
  rangeInOrder,
  text,
  typeName,
  uuid,
  storedDateTime,
  inputObject,
} from "./common.js";
import { eventSummary } from "./events.js";

/** A search text longer than this is refused: nobody types it, and every word costs an index probe. */
export const SEARCH_QUERY_MAX_CHARS = 500;

/**
 * Whether a web-search query names something to find: a word or a phrase not after `-`
 * (and not the operator `or`). `-word` alone only leaves words out, so it would match
 * nearly every event.
 */
function findsSomething(query: string): boolean {
  const terms = query.match(/-?"[^"]*"?|[^\s"]+/g) ?? [];
  return terms.some((term) => !term.startsWith("-") && term.toLowerCase() !== "or");
}

/**
 * Full-text search over events: prompts, assistant text, tool calls' inputs and results,
 * summaries and the timeline text. `query` is web-search syntax (`"exact phrase"`, `or`,
 * `-word`); a single word of 3 or more characters also matches inside the timeline text
 * (`event-service.ts`, `ingestDetailed`, part of a path), where words do not split.
 */
export const searchEventsInput = inputObject({
  query: text(SEARCH_QUERY_MAX_CHARS)
    .trim()
    .min(1, { error: "give the text to search for" })
    .refine(findsSomething, { error: "name a word or phrase to find: a -word only leaves words out" }),
  projectId: uuid().optional(),
  /** One session's events, its subagents' included. */
  sessionId: uuid().optional(),
  eventTypes: z.array(typeName()).min(1).max(50).optional(),
  /** Events that occurred at or after this time. */
  from: storedDateTime().optional(),
  /** Events that occurred before this time. */
  to: storedDateTime().optional(),
  ...pageInput,
}).refine(rangeInOrder, RANGE_OUT_OF_ORDER);
export type SearchEventsInput = z.output<typeof searchEventsInput>;

/** A piece of a snippet; `match` marks the words the search found. */
export const snippetPart = z.object({ text: z.string(), match: z.boolean() });
export type SnippetPart = z.infer<typeof snippetPart>;

export const searchHit = z.object({
  event: eventSummary,
  /** `ts_rank` of the event for the query: higher is more relevant; 0 for a match inside the timeline text only. */
  rank: z.number(),
  /** Text around the matches, matches marked (never HTML: render the parts as you like). */
  snippet: z.array(snippetPart),
  session: z.object({
    id: z.string(),
    externalId: z.string().nullable(),
    title: z.string().nullable(),
    projectId: z.string().nullable(),
  }),
});
export type SearchHit = z.infer<typeof searchHit>;

export const searchHitPage = page(searchHit);
export type SearchHitPage = z.infer<typeof searchHitPage>;
