import type { SearchEventsInput, SearchHit, SearchHitPage, SnippetPart } from "@logbook/contracts";
import type { Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { EVENT_SUMMARY_COLUMNS, toEventSummaryDto, type EventRow } from "../events/event-dto.js";
import { assertCursorValues, decodeCursor, likePattern, timestampKey, toPage } from "../pagination.js";

/**
 * Matches ranked per page are taken from the newest this many: ranking every match of a
 * word found in a million events would cost seconds, and the newest are what people look
 * for. Narrow with a time range, project or session to reach older ones.
 */
export const SEARCH_WINDOW = 1_000;
/** Events of the filters the first time slab reaches back to (newest first). */
const SLAB_EVENTS = 4 * SEARCH_WINDOW;
/** A slab after slabs with no match is this many times as long as all of them. */
const SLAB_GROWTH = 8;
/** Slabs probed before one probe takes the rest. */
const SLABS = 4;
/** Must equal TRIGRAM_PREFIX_CHARS of the migration: the trigram index is on this expression. */
const TRIGRAM_PREFIX_CHARS = 256;
/** A single word this long or longer also matches inside the timeline text (trigrams need 3). */
const MIN_SUBSTRING_CHARS = 3;
/** Characters a snippet is cut from: ts_headline reads its whole input, per result. */
const HEADLINE_SOURCE_CHARS = 10_000;
// Markers ts_headline puts around matches; control characters never shown, split off below.
const START = "\u0002";
const STOP = "\u0003";
const HEADLINE_OPTIONS = `StartSel=${START}, StopSel=${STOP}, MaxWords=30, MinWords=12`;

type HitRow = Omit<EventRow, "payload"> & {
  rank: number;
  cursor_at: string;
  payload_headline: string | null;
  message_headline: string | null;
  session_external_id: string | null;
  session_title: string | null;
  session_project_id: string | null;
};

/** A match in the window: its key (`at` to the microsecond) and rank. */
interface Candidate {
  id: string;
  at: string;
  rank: number;
}

/** A piece of SQL and its bindings, in order. */
interface Fragment {
  sql: string;
  bindings: Knex.RawBinding[];
}

/** Full-text search over events (issue 16); the index is kept by the schema, not by ingest. */
export class SearchService {
  private readonly knex: Knex;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
  }

  /**
   * Events matching `query`, most relevant first (`ts_rank`, then newest) among the newest
   * SEARCH_WINDOW matches, with highlighted snippets. A single word of 3+ characters also
   * matches as a substring of the timeline text through the trigram index.
   *
   * Statements: the window's ids and ranks (newestMatches: the query parsed together with the
   * first slab's bound, then one per slab probed, usually one; a session filter reads the
   * session's tree first), then the page cut from the window, only the page's events read
   * for their snippets.
   */
  async events(input: SearchEventsInput): Promise<SearchHitPage> {
    let after: Fragment = { sql: "", bindings: [] };
    if (input.cursor) {
      const [rank, at, id] = decodeCursor(input.cursor, ["number", "string", "string"]) as [number, string, string];
      assertCursorValues([at, id], ["timestamp", "uuid"]);
      after = {
        sql: "WHERE (r.rank, r.occurred_at, r.id) < (?::real, ?::timestamptz, ?::uuid)",
        bindings: [rank, at, id],
      };
    }
    const { tsq, candidates } = await this.newestMatches(input);

    const columns = EVENT_SUMMARY_COLUMNS.map((c) => `e.${c}`).join(", ");
    const result = await this.knex.raw<{ rows: HitRow[] }>(
      `WITH ranked AS (
         SELECT * FROM unnest(?::uuid[], ?::timestamptz[], ?::real[]) AS r(id, occurred_at, rank)
       ),
       hits AS (
         SELECT r.* FROM ranked r ${after.sql}
         ORDER BY r.rank DESC, r.occurred_at DESC, r.id DESC
         LIMIT ?
       )
       SELECT ${columns}, h.rank,
         ${timestampKey("h.occurred_at")} AS cursor_at,
         CASE WHEN e.search_vector @@ ?::tsquery THEN ts_headline('english',
           left(logbook_event_payload_text(e.payload), ${HEADLINE_SOURCE_CHARS}), ?::tsquery, '${HEADLINE_OPTIONS}')
         END AS payload_headline,
         CASE WHEN e.search_vector @@ ?::tsquery THEN ts_headline('english', e.message, ?::tsquery, '${HEADLINE_OPTIONS}')
         END AS message_headline,
         s.external_id AS session_external_id, s.title AS session_title, s.project_id AS session_project_id
       FROM hits h
       JOIN events e ON e.id = h.id AND e.occurred_at = h.occurred_at
       LEFT JOIN sessions s ON s.id = e.session_id
       ORDER BY h.rank DESC, h.occurred_at DESC, h.id DESC`,
      [
        candidates.map((c) => c.id),
        candidates.map((c) => c.at),
        candidates.map((c) => c.rank),
        ...after.bindings,
        input.limit + 1,
        tsq,
        tsq,
        tsq,
        tsq,
      ],
    );
    return toPage(
      result.rows,
      input.limit,
      (row): SearchHit => ({
        event: toEventSummaryDto(row),
        rank: row.rank,
        snippet: snippetOf(row, input.query),
        session: {
          id: row.session_id,
          externalId: row.session_external_id,
          title: row.session_title,
          projectId: row.session_project_id,
        },
      }),
      (row) => [row.rank, row.cursor_at, row.id],
    );
  }

  /**
   * The newest SEARCH_WINDOW matches with their ranks, in time slabs from the newest:
   *
   * - The query is a constant in each statement (not a CTE's column), so the planner knows
   *   from the column's statistics how many events it matches: for common words it walks
   *   the time index newest first with the words as a filter and stops at the window's
   *   last match; for rarer ones it takes the GIN bitmap, within the slab's time range.
   *   (With the query hidden in a CTE it always took the bitmap of every match in the
   *   table: for a common word most of the table, docs/performance.md.)
   * - The first slab reaches back to the SLAB_EVENTS-th newest event of the filters; each
   *   next one, older and adjacent, is as long as the rate of matches seen so far says the
   *   window's remainder needs (SLAB_GROWTH times what was probed while none was seen);
   *   after SLABS of them, one probe takes the rest. A word in one event of a hundred then
   *   costs the bitmap of about a window's matches, not of all its matches in the table.
   *
   * Exact: each slab takes its newest matches up to what the window still lacks, and the
   * slabs are adjacent, newest first, so their union is the newest SEARCH_WINDOW matches.
   * Returns them with the parsed query (a tsquery's text).
   */
  private async newestMatches(input: SearchEventsInput): Promise<{ tsq: string; candidates: Candidate[] }> {
    const filters = await filtersOf(this.knex, input);
    // One statement (one round trip fewer a search): the query parsed, given to each probe
    // as a constant so the planner can estimate how many events it matches, and the first
    // slab's bound (the SLAB_EVENTS-th newest event of the filters).
    const head = await this.knex.raw<{
      rows: Array<{ tsq: string; n: number; newest: Date | null; oldest: Date | null }>;
    }>(
      `SELECT websearch_to_tsquery('english', ?)::text AS tsq, t.n, t.newest, t.oldest
       FROM (SELECT count(*)::int AS n, max(s.occurred_at) AS newest, min(s.occurred_at) AS oldest
               FROM (SELECT e.occurred_at FROM events e WHERE ${filters.sql}
                     ORDER BY e.occurred_at DESC LIMIT ${SLAB_EVENTS}) s) t`,
      [input.query, ...filters.bindings],
    );
    const first = head.rows[0];
    const tsq = first?.tsq ?? "";
    const match = matchOf(input.query, tsq);
    const probe = async (range: Fragment, wanted: number): Promise<Candidate[]> => {
      const result = await this.knex.raw<{ rows: Candidate[] }>(
        `SELECT e.id, ${timestampKey("e.occurred_at")} AS at, ts_rank(e.search_vector, ?::tsquery) AS rank
         FROM events e
         WHERE ${filters.sql} AND ${match.sql} AND ${range.sql}
         ORDER BY e.occurred_at DESC
         LIMIT ${wanted}`,
        [tsq, ...filters.bindings, ...match.bindings, ...range.bindings],
      );
      return result.rows;
    };

    if (!first?.newest || !first.oldest || first.n < SLAB_EVENTS) {
      return { tsq, candidates: await probe({ sql: "TRUE", bindings: [] }, SEARCH_WINDOW) }; // few events: one probe
    }
    // Slab bounds are whole milliseconds (a JS Date's precision); every event at or after
    // `covered` has been probed. The first slab holds at least SLAB_EVENTS events.
    let covered = first.oldest.getTime();
    const found = await probe({ sql: "e.occurred_at >= ?::timestamptz", bindings: [isoOf(covered)] }, SEARCH_WINDOW);
    const newest = first.newest.getTime();
    for (let slab = 0; slab < SLABS && found.length < SEARCH_WINDOW; slab++) {
      // Long enough for what the window lacks at the rate of matches seen so far (half as
      // much again, since the rate varies), or SLAB_GROWTH times what was probed if none.
      const probed = Math.max(newest - covered, 1_000);
      const width =
        found.length === 0 ? probed * SLAB_GROWTH : ((SEARCH_WINDOW - found.length) / found.length) * probed * 1.5;
      const lower = Math.floor(covered - Math.max(width, 1_000));
      if (lower <= 0) break; // events dated at the epoch (undated lines) are left to the last probe
      const range = {
        sql: "e.occurred_at < ?::timestamptz AND e.occurred_at >= ?::timestamptz",
        bindings: [isoOf(covered), isoOf(lower)],
      };
      found.push(...(await probe(range, SEARCH_WINDOW - found.length)));
      covered = lower;
    }
    if (found.length < SEARCH_WINDOW) {
      const rest = { sql: "e.occurred_at < ?::timestamptz", bindings: [isoOf(covered)] };
      found.push(...(await probe(rest, SEARCH_WINDOW - found.length)));
    }
    return { tsq, candidates: found };
  }
}

/**
 * The search's filters other than the text: project, session tree, types, time range. A
 * session's tree is read first and given as a list: as a recursive subquery the planner
 * cannot tell it is a handful of sessions and may read every event to join them.
 */
async function filtersOf(knex: Knex, input: SearchEventsInput): Promise<Fragment> {
  const where: string[] = ["TRUE"];
  const bindings: Knex.RawBinding[] = [];
  if (input.sessionId) {
    const tree = await knex.raw<{ rows: Array<{ id: string }> }>(
      `WITH RECURSIVE tree AS (
         SELECT id FROM sessions WHERE id = ?
         UNION ALL SELECT s.id FROM sessions s JOIN tree ON s.parent_session_id = tree.id
       ) SELECT id FROM tree`,
      [input.sessionId],
    );
    where.push("e.session_id = ANY(?::uuid[])");
    bindings.push(tree.rows.map((r) => r.id));
  }
  if (input.projectId) {
    where.push("e.session_id IN (SELECT id FROM sessions WHERE project_id = ?)");
    bindings.push(input.projectId);
  }
  if (input.eventTypes) {
    where.push("e.event_type = ANY(?::text[])");
    bindings.push(input.eventTypes);
  }
  if (input.from) {
    where.push("e.occurred_at >= ?::timestamptz");
    bindings.push(input.from);
  }
  if (input.to) {
    where.push("e.occurred_at < ?::timestamptz");
    bindings.push(input.to);
  }
  return { sql: where.join(" AND "), bindings };
}

const isoOf = (ms: number) => new Date(ms).toISOString();

/** The text test: the words, or for a single word of 3+ characters also a substring of the timeline text. */
function matchOf(query: string, tsq: string): Fragment {
  const substring = !/\s/.test(query) && query.length >= MIN_SUBSTRING_CHARS;
  if (!substring) return { sql: "e.search_vector @@ ?::tsquery", bindings: [tsq] };
  return {
    sql: `(e.search_vector @@ ?::tsquery OR left(e.message, ${TRIGRAM_PREFIX_CHARS}) ILIKE ?)`,
    bindings: [tsq, likePattern(query)],
  };
}

/**
 * The snippet from what was said (the payload's text), else from the timeline text (a
 * client's message, a tool's name), else the timeline text with the substring marked:
 * the timeline text repeats the payload's first words, so one source is shown, not both.
 */
function snippetOf(row: HitRow, query: string): SnippetPart[] {
  for (const headline of [row.payload_headline, row.message_headline]) {
    if (headline?.includes(START)) return headlineParts(headline);
  }
  return substringParts(row.message, query);
}

/** ts_headline's text split at its markers. */
export function headlineParts(headline: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  for (const [i, piece] of headline.split(START).entries()) {
    const [matched, rest] = i === 0 ? [undefined, piece] : splitOnce(piece, STOP);
    if (matched) parts.push({ text: matched, match: true });
    if (rest) parts.push({ text: rest, match: false });
  }
  return parts;
}

function splitOnce(text: string, marker: string): [string, string] {
  const at = text.indexOf(marker);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + marker.length)];
}

/** The timeline text with the first case-insensitive occurrence of `query` marked. */
export function substringParts(message: string | null, query: string): SnippetPart[] {
  if (!message) return [];
  const at = message.toLowerCase().indexOf(query.toLowerCase());
  if (at < 0) return [{ text: message, match: false }];
  const parts: SnippetPart[] = [
    { text: message.slice(0, at), match: false },
    { text: message.slice(at, at + query.length), match: true },
    { text: message.slice(at + query.length), match: false },
  ];
  return parts.filter((p) => p.text !== "");
}
