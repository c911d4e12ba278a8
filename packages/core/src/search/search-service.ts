import type { SearchEventsInput, SearchHit, SearchHitPage, SnippetPart } from "@logbook/contracts";
import type { Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { EVENT_SUMMARY_COLUMNS, toEventSummaryDto, type EventRow } from "../events/event-dto.js";
import { assertCursorValues, decodeCursor, likePattern, timestampKey, toPage } from "../pagination.js";

/**
 * Matches ranked per page are taken from the newest this many: ranking every match of a
 * word found in a million events would cost seconds, and the newest are what people look
 * for. Narrow with a time range, project or session to reach older ones. A match is checked
 * on the event's stored vector, a few microseconds a row, so a window costs about
 * SEARCH_WINDOW / frequency rows: 500 keeps a phrase in 5% of events at 10,000 rows
 * (1,000 took ~80 ms at 10M events, docs/performance.md).
 */
export const SEARCH_WINDOW = 500;
/** Events of the filters the first time slab reaches back to (newest first). */
const SLAB_EVENTS = 4_000;
/** Matches in the first slab (of SLAB_EVENTS events) from which the older slabs may walk the time index. */
const DENSE_MATCHES = SLAB_EVENTS / 100;
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

/**
 * The query parsed where it is used, bound as a constant: the planner then estimates from the
 * column's statistics how many events it matches (`websearch_to_tsquery` with a fixed
 * configuration is immutable, so it is folded at planning). Parsed in a CTE or a separate
 * statement it would be a value the planner cannot see into.
 */
const TSQ = "websearch_to_tsquery('english', ?::text)";

/** The first slab's statement: its bound, the window's matches in it, and the page when it holds the whole window. */
type FirstRow = HitRow & {
  slab_events: number;
  newest: Date | null;
  oldest: Date | null;
  found: number;
  complete: boolean;
  window: Array<[string, string, number]> | null;
};

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
   * Statements: one when the first slab (back to the SLAB_EVENTS-th newest event of the
   * filters) holds the whole window, as for a common word: the window, the page cut from it
   * and the page's snippets come back together. Otherwise (rarer words) the older slabs are
   * probed, one statement each (olderMatches), then the page is read with its snippets.
   * A session filter reads the session's tree first.
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
    const filters = await filtersOf(this.knex, input);
    const match = matchOf(input.query);
    const page = pageOf(input, after);

    // The first slab (`b`: its bound; `m`: the window's matches in it, newest first): for a
    // project alone from its sessions (projectSlab), otherwise from the time index
    // (timeSlab). The page and its snippets are made only when the slab held the whole window.
    const complete = `(w.found = ${SEARCH_WINDOW} OR b.n < ${SLAB_EVENTS})`;
    const byProject = !input.sessionId && !input.from && !input.to ? input.projectId : undefined;
    const slab = byProject
      ? projectSlab(byProject, input.query, filters, match)
      : timeSlab(input.query, filters, match);
    const first = await this.knex.raw<{ rows: FirstRow[] }>(
      `WITH ${slab.sql},
       w AS (SELECT count(*)::int AS found FROM m),
       ${page.hits("m")}
       SELECT b.n AS slab_events, b.newest, b.oldest, w.found, ${complete} AS complete,
         CASE WHEN NOT ${complete} THEN
           (SELECT json_agg(json_build_array(m.id, ${timestampKey("m.occurred_at")}, m.rank)) FROM m)
         END AS window,
         hit.*
       FROM b CROSS JOIN w
       LEFT JOIN LATERAL (${page.select} AND ${complete}) hit ON TRUE
       ORDER BY hit.rank DESC, hit.hit_at DESC, hit.id DESC`,
      [...slab.bindings, ...page.hitsBindings, ...page.selectBindings],
    );
    const head = first.rows[0];
    let rows: HitRow[];
    if (!head || head.complete) {
      rows = first.rows.filter((row) => row.id !== null);
    } else {
      const found = (head.window ?? []).map(([id, at, rank]) => ({ id, at, rank }));
      const candidates = await this.olderMatches(input.query, filters, match, found, head);
      const result = await this.knex.raw<{ rows: HitRow[] }>(
        `WITH ranked AS (
           SELECT * FROM unnest(?::uuid[], ?::timestamptz[], ?::real[]) AS r(id, occurred_at, rank)
         ),
         ${page.hits("ranked")}
         ${page.select}
         ORDER BY h.rank DESC, h.occurred_at DESC, h.id DESC`,
        [
          candidates.map((c) => c.id),
          candidates.map((c) => c.at),
          candidates.map((c) => c.rank),
          ...page.hitsBindings,
          ...page.selectBindings,
        ],
      );
      rows = result.rows;
    }
    return toPage(
      rows,
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
   * The rest of the newest SEARCH_WINDOW matches when the first slab (`head`: the newest
   * `slab_events` events of the filters, from `oldest` to `newest`) held only `found`, in
   * older time slabs:
   *
   * - Each next slab, older and adjacent, is as long as the rate of matches seen so far says
   *   the window's remainder needs (SLAB_GROWTH times what was probed while none was seen);
   *   after SLABS of them, one probe takes the rest. A word in one event of a hundred then
   *   costs the bitmap of about a window's matches, not of all its matches in the table.
   * - The query is a constant in each probe, so the planner picks the time index walk or the
   *   GIN bitmap from the words' statistics, within the slab's time range; but only when the
   *   first slab showed the words in at least one event of a hundred (DENSE_MATCHES), and
   *   never in the last probe (the rest of the table, unbounded): otherwise the probes sort
   *   the GIN bitmap's matches. For a word missing from the column's statistics the planner
   *   guesses one event in two hundred, and with a window's remainder of a few hundred it
   *   then walks the time index expecting to stop soon, while a word in three events (or
   *   dense in the newest events only) walks the whole slab or table (110 s at 10M events).
   *
   * Exact: each slab takes its newest matches up to what the window still lacks, and the
   * slabs are adjacent, newest first, so their union is the newest SEARCH_WINDOW matches.
   */
  private async olderMatches(
    query: string,
    filters: Fragment,
    match: Fragment,
    found: Candidate[],
    head: { newest: Date | null; oldest: Date | null },
  ): Promise<Candidate[]> {
    if (!head.newest || !head.oldest) return found;
    // Newest first by an expression no index has: never a walk of the time index.
    const sorted = "e.occurred_at + interval '0' DESC";
    const slabOrder = found.length >= DENSE_MATCHES ? "e.occurred_at DESC" : sorted;
    const probe = async (range: Fragment, wanted: number, order: string): Promise<Candidate[]> => {
      const result = await this.knex.raw<{ rows: Candidate[] }>(
        `SELECT e.id, ${timestampKey("e.occurred_at")} AS at, ts_rank(e.search_vector, ${TSQ}) AS rank
         FROM events e
         WHERE ${filters.sql} AND ${match.sql} AND ${range.sql}
         ORDER BY ${order}
         LIMIT ${wanted}`,
        [query, ...filters.bindings, ...match.bindings, ...range.bindings],
      );
      return result.rows;
    };
    // Slab bounds are whole milliseconds (a JS Date's precision); every event at or after
    // `covered` has been probed (the first slab took every event at or after its oldest).
    let covered = head.oldest.getTime();
    const newest = head.newest.getTime();
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
      found.push(...(await probe(range, SEARCH_WINDOW - found.length, slabOrder)));
      covered = lower;
    }
    if (found.length < SEARCH_WINDOW) {
      const rest = { sql: "e.occurred_at < ?::timestamptz", bindings: [isoOf(covered)] };
      found.push(...(await probe(rest, SEARCH_WINDOW - found.length, sorted)));
    }
    return found;
  }
}

/**
 * The first slab as CTEs `b` (its bound: `n` events from `oldest` to `newest`) and `m` (the
 * window's matches in it, newest first), for any filters. `b` is the SLAB_EVENTS-th newest
 * event of the filters, read from the time index only. The bound reaches `m` as a
 * parameter, not a constant: for a common word the planner walks the time index newest
 * first with the words as a filter, stopping at the window's last match; for a rare word it
 * takes the GIN bitmap. (With the bound a constant it knew the slab was a few thousand
 * events and intersected it with the GIN bitmap of every match of the words in the
 * partition: 200 ms for two common words at 10M events.)
 */
function timeSlab(query: string, filters: Fragment, match: Fragment): Fragment {
  return {
    sql: `b AS (
         SELECT count(*)::int AS n, max(s.occurred_at) AS newest, min(s.occurred_at) AS oldest
         FROM (SELECT e.occurred_at FROM events e WHERE ${filters.sql}
               ORDER BY e.occurred_at DESC LIMIT ${SLAB_EVENTS}) s
       ),
       m AS (
         SELECT e.id, e.occurred_at, ts_rank(e.search_vector, ${TSQ}) AS rank
         FROM events e
         WHERE ${filters.sql} AND ${match.sql} AND e.occurred_at >= (SELECT oldest FROM b)
         ORDER BY e.occurred_at DESC
         LIMIT ${SEARCH_WINDOW}
       )`,
    bindings: [...filters.bindings, query, ...filters.bindings, ...match.bindings],
  };
}

/**
 * The first slab of a project's search (no session or time range), found from the project's
 * sessions instead of its events. A project is a small share of the table, so neither
 * `timeSlab` plan fits it: the global time index walked for the project's events passes
 * ~200 others for each of its own, and the SLAB_EVENTS-th newest event read through the
 * sessions' `(session_id, occurred_at)` keys meant reading every event key the project
 * has (48,493 at 10M events, 500 sessions, each a descent in every partition), mostly
 * from disk when cold.
 *
 * `b`: the project's sessions newest first by `last_activity_at` (`sessions_project_idx`),
 * adding up their event counts (`last_event_seq`); the bound is the last activity of the
 * first session whose newer ones hold SLAB_EVENTS events (no bound if none does), cut to
 * the millisecond (older slabs continue from it as a JS Date). A
 * session's events are no later than its last activity, so the slab holds about the events
 * of those newer sessions. The bound is only an estimate, never a filter on which sessions
 * are read: `m` reads every session of the project from the bound on, so the window stays
 * exact if a session's counters or last activity are off (they decide how much is read,
 * not what is found; `search-project.test.ts` breaks them on purpose). `b.n` is SLAB_EVENTS
 * with a bound and 0 without, so the slab is complete when unbounded.
 *
 * `m`: the slab's events come from the sessions' keys grouped by session, not by time, so
 * a match test in the scan would check every event of the slab to keep the newest
 * SEARCH_WINDOW. They are sorted by time first (the rows, without reading the words; `OFFSET
 * 0` keeps the test out of the scan) and tested newest first, stopping at the window's last
 * match: ~700 rows for a word in two events of three instead of 4,000.
 */
function projectSlab(projectId: string, query: string, filters: Fragment, match: Fragment): Fragment {
  return {
    sql: `c AS (
         SELECT s.last_activity_at AS at, s.last_event_seq AS n,
           sum(s.last_event_seq) OVER (ORDER BY s.last_activity_at DESC, s.id DESC ROWS UNBOUNDED PRECEDING) AS upto
         FROM sessions s WHERE s.project_id = ?
       ),
       b AS (
         SELECT CASE WHEN bound.at IS NULL THEN 0 ELSE ${SLAB_EVENTS} END AS n,
           (SELECT max(c.at) FROM c) AS newest, bound.at AS oldest
         FROM (SELECT date_trunc('milliseconds', max(c.at)) AS at FROM c WHERE c.upto - c.n >= ${SLAB_EVENTS}) bound
       ),
       m AS (
         SELECT e.id, e.occurred_at, ts_rank(e.search_vector, ${TSQ}) AS rank
         FROM (SELECT e.id, e.occurred_at, e.search_vector, e.message FROM events e
               WHERE ${filters.sql} AND e.occurred_at >= coalesce((SELECT oldest FROM b), '-infinity')
               ORDER BY e.occurred_at DESC OFFSET 0) e
         WHERE ${match.sql}
         ORDER BY e.occurred_at DESC
         LIMIT ${SEARCH_WINDOW}
       )`,
    bindings: [projectId, query, ...filters.bindings, ...match.bindings],
  };
}

/**
 * The page cut from a window (a relation of `id, occurred_at, rank`): `hits(source)` is the
 * CTE of the page's keys after the cursor, `select` reads only those events, with their
 * snippets and sessions (ending in a WHERE to which a caller may add a condition).
 */
function pageOf(input: SearchEventsInput, after: Fragment) {
  const columns = EVENT_SUMMARY_COLUMNS.map((c) => `e.${c}`).join(", ");
  return {
    hits: (source: string) =>
      `hits AS (
         SELECT r.* FROM ${source} r ${after.sql}
         ORDER BY r.rank DESC, r.occurred_at DESC, r.id DESC
         LIMIT ${input.limit + 1}
       )`,
    hitsBindings: after.bindings,
    select: `SELECT ${columns}, h.rank, h.occurred_at AS hit_at,
         ${timestampKey("h.occurred_at")} AS cursor_at,
         CASE WHEN e.search_vector @@ ${TSQ} THEN ts_headline('english',
           left(logbook_event_payload_text(e.payload), ${HEADLINE_SOURCE_CHARS}), ${TSQ}, '${HEADLINE_OPTIONS}')
         END AS payload_headline,
         CASE WHEN e.search_vector @@ ${TSQ} THEN ts_headline('english', e.message, ${TSQ}, '${HEADLINE_OPTIONS}')
         END AS message_headline,
         s.external_id AS session_external_id, s.title AS session_title, s.project_id AS session_project_id
       FROM hits h
       JOIN events e ON e.id = h.id AND e.occurred_at = h.occurred_at
       LEFT JOIN sessions s ON s.id = e.session_id
       WHERE TRUE`,
    selectBindings: [input.query, input.query, input.query, input.query] as Knex.RawBinding[],
  };
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
    // An array read first through sessions' project index (an InitPlan): as `IN (subquery)`
    // the planner joined it and, at 10M events, scanned every session in parallel for it.
    where.push("e.session_id = ANY(ARRAY(SELECT id FROM sessions WHERE project_id = ?))");
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
function matchOf(query: string): Fragment {
  const substring = !/\s/.test(query) && query.length >= MIN_SUBSTRING_CHARS;
  if (!substring) return { sql: `e.search_vector @@ ${TSQ}`, bindings: [query] };
  return {
    sql: `(e.search_vector @@ ${TSQ} OR left(e.message, ${TRIGRAM_PREFIX_CHARS}) ILIKE ?)`,
    bindings: [query, likePattern(query)],
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
