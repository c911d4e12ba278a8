/**
 * Ingest, last step: what the accepted events change besides themselves — session state
 * (status, title, times, project), messages, token counters and cost — derived in memory
 * (`deriveSession`) and written in a few statements.
 */
import type { ParsedIngestEvent } from "@logbook/contracts";
import type { Knex } from "@logbook/db";

import { cleanText, sanitizeJsonForPostgres } from "../json.js";
import { known } from "../invariants.js";
import { formatCost, usdToUnits, type PriceBook } from "../pricing/pricing.js";
import { canonicalProjectPath, projectNameOf } from "../projects/project-path.js";
import { columnBindings } from "../sql.js";
import { deriveSession, type DerivableEvent, type Derivation, type DerivedMessage } from "./derive.js";
import type { SessionRow } from "./ingest-sessions.js";

type Trx = Knex.Transaction;

const NO_USAGE = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  cacheCreation1hTokens: 0,
};

/** What a batch adds to a session's counters (cost as `numeric` text). */
interface SessionIncrements {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  costUsd: string;
  unpricedMessages: number;
}

/** An event with its id, time and session settled, ready to insert. */
export interface PreparedEvent extends DerivableEvent {
  index: number;
  /** The client's message, or the summary text made for a timeline (`summaryText`). */
  message: string | undefined;
  sessionKey: string;
  input: ParsedIngestEvent;
  sessionId: string;
  seq: number;
  /** Secrets replaced in the event before it got here (`redactEvent`). */
  redactions: number;
  /** Characters PostgreSQL cannot hold, stored as U+FFFD (`storableEvent`). */
  replacedCharacters: number;
}

/**
 * Derives session state from the accepted events and writes what goes before it (projects,
 * messages); returns the sessions it changed and their update, for `writeSessionsAndNotify`.
 */
export async function applyDerivations(
  trx: Trx,
  prices: PriceBook,
  sessions: Map<string, SessionRow>,
  accepted: PreparedEvent[],
): Promise<{ changed: string[]; sessionUpdates: string | null; derivations: SessionDerivation[] }> {
  const derivations = deriveSessions(sessions, accepted);
  // Sessions without a project get the one where their agent works, created on first sight.
  const paths = projectPathsOf(sessions, derivations);
  const projects = await ensureProjects(
    trx,
    [...paths.values()].flatMap((p) => (typeof p === "string" ? [p] : [])),
  );
  for (const { sessionId, row, derived } of derivations) {
    const path = paths.get(sessionId);
    const projectId = path === undefined ? undefined : typeof path === "string" ? projects.get(path) : path.projectId;
    if (projectId !== undefined) {
      derived.patch.project_id = projectId;
      row.projectId = projectId;
    }
  }
  // Messages tied to one event (prompts, replies of hooks) of every session in one statement.
  await insertEventMessages(
    trx,
    derivations.flatMap(({ sessionId, derived }) =>
      derived.messages.filter((m) => m.externalMessageId === null).map((message) => ({ sessionId, message })),
    ),
  );
  const updates: SessionUpdate[] = [];
  for (const { sessionId, derived } of derivations) {
    const tokens = await storeResponseMessages(trx, prices, sessionId, derived.messages);
    const { patch, metadata } = storablePatch(derived);
    if (Object.keys(patch).length === 0 && metadata === null && !tokens) continue;
    updates.push({
      id: sessionId,
      p: patch,
      m: metadata,
      input_tokens: tokens?.inputTokens ?? 0,
      output_tokens: tokens?.outputTokens ?? 0,
      cache_read_tokens: tokens?.cacheReadTokens ?? 0,
      cache_creation_tokens: tokens?.cacheCreationTokens ?? 0,
      cost_usd: tokens?.costUsd ?? "0",
      unpriced_messages: tokens?.unpricedMessages ?? 0,
    });
  }
  return {
    changed: updates.map((u) => u.id),
    sessionUpdates: updates.length > 0 ? JSON.stringify(updates) : null,
    derivations,
  };
}

/** One session's derivation from its accepted events of a batch. */
export interface SessionDerivation {
  sessionId: string;
  row: SessionRow;
  derived: Derivation;
}

/** Each session's new state from its accepted events (in memory, no query), in first-seen order. */
export function deriveSessions(sessions: Map<string, SessionRow>, accepted: PreparedEvent[]): SessionDerivation[] {
  const bySession = new Map<string, PreparedEvent[]>();
  for (const event of accepted) {
    const list = bySession.get(event.sessionId) ?? [];
    list.push(event);
    bySession.set(event.sessionId, list);
  }
  return [...bySession].map(([sessionId, events]) => {
    const row = known(sessions.get(sessionId), "the session row of an accepted event");
    return { sessionId, row, derived: deriveSession(row, events) };
  });
}

/**
 * Where each session of the batch without a project finds one: a path (found or created), or
 * its parent's project. A subagent works in its parent's project wherever its own working
 * directory is (an agent that went into `packages/types` and started one there has not
 * started a project `types`): it takes the project its parent in this batch has or gets, and
 * its own path only when its parent has none (the batch's sessions include every parent its
 * children name, `resolveSessions`).
 */
function projectPathsOf(
  sessions: Map<string, SessionRow>,
  derivations: SessionDerivation[],
): Map<string, string | { projectId: string }> {
  const own = new Map(derivations.map(({ sessionId, row, derived }) => [sessionId, missingProjectPath(row, derived)]));
  const paths = new Map<string, string | { projectId: string }>();
  for (const { sessionId, row } of derivations) {
    if (row.projectId !== null) continue;
    const parent = row.parentSessionId === null ? undefined : sessions.get(row.parentSessionId);
    const fromParent =
      parent === undefined
        ? null
        : parent.projectId !== null
          ? { projectId: parent.projectId }
          : (own.get(parent.id) ?? null);
    const path = fromParent ?? own.get(sessionId) ?? null;
    if (path !== null) paths.set(sessionId, path);
  }
  return paths;
}

/** The project path a session without a project gets from this derivation (null: none to find or create). */
export function missingProjectPath(row: SessionRow, derived: Derivation): string | null {
  return row.projectId === null ? projectPathOf(derived.projectPath ?? row.cwd) : null;
}

/** A derivation's row patch and metadata as they are stored (text cleaned; metadata null when empty). */
export function storablePatch(derived: Derivation): { patch: Record<string, unknown>; metadata: unknown } {
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(derived.patch)) {
    if (!(key in PATCH_COLUMNS)) throw new Error(`derived a change to sessions.${key}, which the update does not know`);
    patch[key] = typeof value === "string" ? cleanText(value) : value;
  }
  const metadata = Object.keys(derived.metadata).length > 0 ? sanitizeJsonForPostgres(derived.metadata) : null;
  return { patch, metadata };
}

/**
 * The batch's last statement before COMMIT: the sessions' new state (from `applyDerivations`)
 * and the live notification, in one round trip (`WITH updated AS (UPDATE …) SELECT pg_notify(…)`:
 * a data-modifying WITH runs whole whether or not the SELECT reads it).
 */
export async function writeSessionsAndNotify(
  trx: Trx,
  sessionUpdates: string | null,
  notice: { sql: string; bindings: string[] } | null,
): Promise<void> {
  if (sessionUpdates === null) {
    if (notice) await trx.raw(notice.sql, notice.bindings);
  } else if (notice === null) {
    await trx.raw(UPDATE_SESSIONS_SQL, [sessionUpdates]);
  } else {
    await trx.raw(`WITH updated AS (${UPDATE_SESSIONS_SQL}) ${notice.sql}`, [sessionUpdates, ...notice.bindings]);
  }
}

/** What one session's row gets from a batch: its patch (columns below), metadata merged in, counters added. */
interface SessionUpdate {
  id: string;
  p: Record<string, unknown>;
  m: unknown;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  /** numeric as text: no float on the way. */
  cost_usd: string;
  unpriced_messages: number;
}

/** The `sessions` columns `deriveSession` (and the project step) may set, with their types. */
const PATCH_COLUMNS: Record<string, "text" | "timestamptz" | "boolean" | "uuid"> = {
  status: "text",
  status_reason: "text",
  status_changed_at: "timestamptz",
  is_working: "boolean",
  started_at: "timestamptz",
  ended_at: "timestamptz",
  last_activity_at: "timestamptz",
  cwd: "text",
  machine_id: "text",
  agent_type: "text",
  transcript_path: "text",
  permission_mode: "text",
  model: "text",
  initial_query: "text",
  title: "text",
  error_message: "text",
  project_id: "uuid",
};

/**
 * Every changed session of a batch in one statement (was one UPDATE per session: under load a
 * group of 50 posts over 50 sessions paid 50 round trips here). A column not in a session's
 * patch keeps its value; a key present with null sets NULL, as the per-session update did (`->` gives
 * JSON null, not SQL NULL, for a key that is there with null; `?` would be a knex binding).
 */
const UPDATE_SESSIONS_SQL = `UPDATE sessions AS s SET
  ${Object.entries(PATCH_COLUMNS)
    .map(([c, type]) => `${c} = CASE WHEN x.p -> '${c}' IS NOT NULL THEN (x.p ->> '${c}')::${type} ELSE s.${c} END`)
    .join(",\n  ")},
  metadata = CASE WHEN x.m IS NULL THEN s.metadata ELSE s.metadata || x.m END,
  input_tokens = s.input_tokens + x.input_tokens,
  output_tokens = s.output_tokens + x.output_tokens,
  cache_read_tokens = s.cache_read_tokens + x.cache_read_tokens,
  cache_creation_tokens = s.cache_creation_tokens + x.cache_creation_tokens,
  cost_usd = s.cost_usd + x.cost_usd,
  unpriced_messages = s.unpriced_messages + x.unpriced_messages
FROM jsonb_to_recordset(?::jsonb) AS x(id uuid, p jsonb, m jsonb, input_tokens bigint, output_tokens bigint,
  cache_read_tokens bigint, cache_creation_tokens bigint, cost_usd numeric, unpriced_messages integer)
WHERE s.id = x.id`;

/**
 * Stores a session's messages that carry the provider's message id (transcript lines):
 * a response split over several lines becomes one message, and its usage and cost are
 * counted once, when the message is first inserted (a re-import counts nothing twice).
 * Returns the session's increments. Messages without that id go through
 * `insertEventMessages`.
 *
 * Cost: what Claude Code reported on the line (`costUSD`) wins; otherwise the tokens
 * priced with the table in memory (no query); an unknown model leaves the cost NULL and
 * counts the message as unpriced.
 */
async function storeResponseMessages(
  trx: Trx,
  prices: PriceBook,
  sessionId: string,
  messages: DerivedMessage[],
): Promise<SessionIncrements | null> {
  if (messages.length === 0) return null;
  // Merge lines of one response within the batch first (the upsert cannot touch a row twice).
  const merged = new Map<string, DerivedMessage & { externalMessageId: string }>();
  for (const m of messages) {
    const { externalMessageId } = m;
    if (externalMessageId === null) continue;
    const seen = merged.get(externalMessageId);
    if (!seen) merged.set(externalMessageId, { ...m, externalMessageId });
    else {
      if (m.text) seen.text = seen.text ? `${seen.text}\n\n${m.text}` : m.text;
      seen.model ??= m.model;
      seen.usage ??= m.usage;
      seen.reportedCostUsd ??= m.reportedCostUsd;
    }
  }
  if (merged.size === 0) return null;
  const list = [...merged.values()];
  const pricing = prices.pricing;
  const costs = list.map((m): bigint | null => {
    if (m.reportedCostUsd !== null) return usdToUnits(m.reportedCostUsd);
    return pricing.costUnits(m.model, m.usage ?? NO_USAGE);
  });
  const result = await trx.raw<{ rows: Array<{ external_message_id: string; inserted: boolean }> }>(
    `INSERT INTO session_messages AS m (session_id, role, text, model, external_message_id, claude_session_id,
       input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cache_creation_1h_tokens, created_at,
       cost_usd, reported_cost_usd)
     SELECT ?::uuid, * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[],
       ?::bigint[], ?::bigint[], ?::bigint[], ?::timestamptz[], ?::numeric[], ?::numeric[])
     ON CONFLICT (session_id, external_message_id) WHERE external_message_id IS NOT NULL DO UPDATE
       SET text = CASE WHEN excluded.text = '' THEN m.text WHEN m.text = '' THEN excluded.text
                       ELSE m.text || E'\\n\\n' || excluded.text END,
           model = COALESCE(m.model, excluded.model)
     RETURNING external_message_id, (xmax = 0) AS inserted`,
    columnBindings(
      sessionId,
      list.map((m) => m.role),
      list.map((m) => cleanText(m.text)),
      list.map((m) => m.model),
      list.map((m) => cleanText(m.externalMessageId)),
      list.map((m) => m.claudeSessionId),
      list.map((m) => m.usage?.inputTokens ?? 0),
      list.map((m) => m.usage?.outputTokens ?? 0),
      list.map((m) => m.usage?.cacheReadTokens ?? 0),
      list.map((m) => m.usage?.cacheCreationTokens ?? 0),
      list.map((m) => m.usage?.cacheCreation1hTokens ?? 0),
      list.map((m) => m.createdAt.toISOString()),
      costs.map((c) => (c === null ? null : formatCost(c))),
      list.map((m) => (m.reportedCostUsd === null ? null : formatCost(usdToUnits(m.reportedCostUsd)))),
    ),
  );
  const insertedIds = new Set(result.rows.filter((r) => r.inserted).map((r) => r.external_message_id));
  const totals = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 };
  let costUnits = 0n;
  let unpriced = 0;
  list.forEach((m, i) => {
    if (!insertedIds.has(cleanText(m.externalMessageId))) return;
    totals.inputTokens += m.usage?.inputTokens ?? 0;
    totals.outputTokens += m.usage?.outputTokens ?? 0;
    totals.cacheReadTokens += m.usage?.cacheReadTokens ?? 0;
    totals.cacheCreationTokens += m.usage?.cacheCreationTokens ?? 0;
    const cost = known(costs[i], "a message's cost");
    if (cost !== null) costUnits += cost;
    else unpriced += 1;
  });
  return { ...totals, costUsd: formatCost(costUnits), unpricedMessages: unpriced };
}

/**
 * The canonical project path for a working directory, or null when it is none (relative,
 * empty): such a session simply stays without a project.
 */
function projectPathOf(path: string | null): string | null {
  if (path === null) return null;
  try {
    return canonicalProjectPath(path);
  } catch {
    return null;
  }
}

/**
 * Finds or creates the projects at these canonical paths; returns path -> id. `DO NOTHING`
 * takes no lock on an existing project, so sessions of one project ingesting at once do
 * not queue on its row; new paths go in sorted order, so two batches cannot deadlock.
 */
async function ensureProjects(trx: Trx, paths: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(paths)].sort();
  if (unique.length === 0) return new Map();
  const found = await trx.raw<{ rows: Array<{ id: string; path: string }> }>(
    "SELECT id, path FROM projects WHERE path = ANY(?::text[])",
    [unique],
  );
  const ids = new Map(found.rows.map((r) => [r.path, r.id]));
  const missing = unique.filter((p) => !ids.has(p));
  if (missing.length > 0) {
    const created = await trx.raw<{ rows: Array<{ id: string; path: string }> }>(
      `INSERT INTO projects (path, name) SELECT * FROM unnest(?::text[], ?::text[])
       ON CONFLICT (path) DO NOTHING RETURNING id, path`,
      columnBindings(
        missing.map((p) => cleanText(p)),
        missing.map((p) => cleanText(projectNameOf(p))),
      ),
    );
    for (const r of created.rows) ids.set(r.path, r.id);
    // Created by another batch since the SELECT: now committed (the insert waited for it).
    const raced = missing.filter((p) => !ids.has(p));
    if (raced.length > 0) {
      const again = await trx.raw<{ rows: Array<{ id: string; path: string }> }>(
        "SELECT id, path FROM projects WHERE path = ANY(?::text[])",
        [raced],
      );
      for (const r of again.rows) ids.set(r.path, r.id);
    }
  }
  return ids;
}

/** Messages derived from one event each (no API response id), any sessions, in one statement; a replayed event adds none. */
async function insertEventMessages(
  trx: Trx,
  list: Array<{ sessionId: string; message: DerivedMessage }>,
): Promise<void> {
  if (list.length === 0) return;
  await trx.raw(
    `INSERT INTO session_messages (session_id, role, text, model, source_event_id, claude_session_id, created_at)
     SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::uuid[], ?::text[], ?::timestamptz[])
     ON CONFLICT (session_id, source_event_id) WHERE source_event_id IS NOT NULL DO NOTHING`,
    columnBindings(
      list.map((m) => m.sessionId),
      list.map((m) => m.message.role),
      list.map((m) => cleanText(m.message.text)),
      list.map((m) => m.message.model),
      list.map((m) => m.message.sourceEventId),
      list.map((m) => m.message.claudeSessionId),
      list.map((m) => m.message.createdAt.toISOString()),
    ),
  );
}
