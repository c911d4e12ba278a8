import type {
  Event,
  EventIdInput,
  EventPage,
  EventSummaryPage,
  IngestResult,
  ListRecentEventsInput,
  ListSessionEventsInput,
  ParsedIngestEvent,
} from "@logbook/contracts";
import type { Knex } from "@logbook/db";
import { v7 as uuidv7 } from "uuid";

import { clockOf, withPrices, type CoreDeps } from "../deps.js";
import { AppError, invalidInput, notFound } from "../errors.js";
import { cleanText, sanitizeJsonForPostgres } from "../json.js";
import { formatCost, usdToUnits, type PriceBook } from "../pricing/pricing.js";
import { notifyChanges } from "../live/notify.js";
import { canonicalProjectPath } from "../projects/project-path.js";
import { decodeCursor, toPage } from "../pagination.js";
import { assertCursorValues, timestampKey } from "../pagination.js";
import { columnBindings } from "../sql.js";
import { isUnknownTime, uuidV7Time } from "../time.js";
import {
  deriveSession,
  tokenCountProblem,
  type DerivableEvent,
  type DerivedMessage,
  type SessionState,
} from "./derive.js";
import { summaryText } from "./summary-text.js";
import { EVENT_COLUMNS, EVENT_SUMMARY_COLUMNS, toEventDto, toEventSummaryDto, type EventRow } from "./event-dto.js";

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
interface PreparedEvent extends DerivableEvent {
  index: number;
  /** The client's message, or the summary text made for a timeline (`summaryText`). */
  message: string | undefined;
  sessionKey: string;
  input: ParsedIngestEvent;
  sessionId: string;
  seq: number;
}

interface SessionRow extends SessionState {
  id: string;
  externalId: string | null;
  parentSessionId: string | null;
  projectId: string | null;
}

const SESSION_STATE_SQL = `id, external_id, parent_session_id, status, status_changed_at, started_at, last_activity_at,
  initial_query, title, cwd, project_id`;

function toSessionRow(raw: Record<string, unknown>): SessionRow {
  return {
    id: raw.id as string,
    externalId: raw.external_id as string | null,
    parentSessionId: raw.parent_session_id as string | null,
    status: raw.status as SessionRow["status"],
    statusChangedAt: raw.status_changed_at as Date,
    startedAt: raw.started_at as Date | null,
    lastActivityAt: raw.last_activity_at as Date,
    initialQuery: raw.initial_query as string | null,
    title: raw.title as string | null,
    cwd: raw.cwd as string | null,
    projectId: raw.project_id as string | null,
  };
}

interface NewSessionRow {
  external_id: string;
  parent_session_id: string | null;
  first_at: Date;
  cwd: string | null;
  machine_id: string | null;
  agent_id: string | null;
  agent_type: string | null;
  session_type: string;
  is_user_initiated: boolean;
}

/**
 * Finds or creates sessions by external id in one statement: the insert's RETURNING gives
 * the new rows, the plain SELECT (same snapshot) the ones that existed. A row another
 * transaction committed in between is in neither, so it is read again afterwards.
 */
async function upsertSessions(trx: Trx, rows: NewSessionRow[]): Promise<Array<SessionRow & { created: boolean }>> {
  const ids = rows.map((r) => r.external_id);
  const result = await trx.raw<{ rows: Array<Record<string, unknown>> }>(
    `WITH input AS (
       SELECT * FROM unnest(?::text[], ?::uuid[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::boolean[])
         AS t(external_id, parent_session_id, first_at, cwd, machine_id, agent_id, agent_type, session_type, is_user_initiated)
     ), inserted AS (
       INSERT INTO sessions (external_id, parent_session_id, status, status_changed_at, last_activity_at, cwd, machine_id,
         agent_id, agent_type, session_type, is_user_initiated)
       SELECT external_id, parent_session_id, 'pending', first_at, first_at, cwd, machine_id, agent_id, agent_type,
         session_type, is_user_initiated
       FROM input ORDER BY external_id
       ON CONFLICT (external_id) DO NOTHING
       RETURNING ${SESSION_STATE_SQL}
     )
     SELECT ${SESSION_STATE_SQL}, true AS created FROM inserted
     UNION ALL
     SELECT ${SESSION_STATE_SQL}, false AS created FROM sessions WHERE external_id = ANY(?::text[])`,
    columnBindings(
      ids,
      rows.map((r) => r.parent_session_id),
      rows.map((r) => r.first_at.toISOString()),
      rows.map((r) => r.cwd),
      rows.map((r) => r.machine_id),
      rows.map((r) => r.agent_id),
      rows.map((r) => r.agent_type),
      rows.map((r) => r.session_type),
      rows.map((r) => r.is_user_initiated),
      ids,
    ),
  );
  const found = result.rows.map((raw) => ({ ...toSessionRow(raw), created: raw.created === true }));
  const seen = new Set(found.map((r) => r.externalId));
  const raced = ids.filter((id) => !seen.has(id));
  if (raced.length > 0) {
    const again = await trx.raw<{ rows: Array<Record<string, unknown>> }>(
      `SELECT ${SESSION_STATE_SQL} FROM sessions WHERE external_id = ANY(?::text[])`,
      [raced],
    );
    found.push(...again.rows.map((raw) => ({ ...toSessionRow(raw), created: false })));
  }
  return found;
}

/** Tries of a batch that PostgreSQL chose as a deadlock (or serialization) victim. */
const DEADLOCK_ATTEMPTS = 3;

const keyOf = (sessionId: string, id: string, occurredAt: Date) => `${sessionId}|${id}|${occurredAt.getTime()}`;

/** Events: idempotent batch ingest with state derivation, timelines and counts. */
export class EventService {
  private readonly knex: Knex;
  private readonly now: () => Date;
  private readonly prices: PriceBook;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
    this.now = clockOf(deps);
    this.prices = withPrices(deps).prices;
  }

  /**
   * Stores a batch in one transaction: sessions named by external id are created on
   * first sight, every event gets the next sequence number of its session, and
   * `ON CONFLICT DO NOTHING` drops events already stored. Only the events actually
   * inserted feed the derived session state, messages and token counters, so a
   * retried or re-imported batch changes nothing.
   */
  async ingest(input: { events: ParsedIngestEvent[] }): Promise<IngestResult> {
    const { accepted, ids } = await this.ingestDetailed(input);
    const acceptedCount = accepted.filter(Boolean).length;
    return { accepted: acceptedCount, duplicates: ids.length - acceptedCount, ids };
  }

  /**
   * `ingest`, telling for each event (in input order) whether this call stored it. A batch
   * PostgreSQL aborts as a deadlock victim is rolled back whole, so it is simply run again.
   */
  async ingestDetailed(input: { events: ParsedIngestEvent[] }): Promise<{ accepted: boolean[]; ids: string[] }> {
    input.events.forEach((event, index) => {
      const problem = tokenCountProblem(event);
      if (problem) throw invalidInput(`events[${index}].${problem}`, { index });
    });
    // Ids are fixed before the first attempt, so a retry is the same batch.
    const withIds = { events: input.events.map((e) => withStorableExternalIds(e.id ? e : { ...e, id: uuidv7() })) };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ingestOnce(withIds);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= DEADLOCK_ATTEMPTS || (code !== "40P01" && code !== "40001")) throw error;
      }
    }
  }

  private async ingestOnce(input: { events: ParsedIngestEvent[] }): Promise<{ accepted: boolean[]; ids: string[] }> {
    const receivedAt = this.now();
    const events = input.events.map((e, index) => {
      const id = e.id ?? uuidv7();
      const occurredAt = e.occurredAt ? new Date(e.occurredAt) : (uuidV7Time(id) ?? receivedAt);
      return { e, index, id, occurredAt };
    });

    return this.knex.transaction(async (trx) => {
      const sessions = await this.resolveSessions(
        trx,
        input.events,
        events.map((x) => (isUnknownTime(x.occurredAt) ? receivedAt : x.occurredAt)),
      );
      const perSession = new Map<string, number>();
      for (const { e } of events) {
        const sessionId = sessions.byKey.get(sessionKeyOf(e))!.id;
        perSession.set(sessionId, (perSession.get(sessionId) ?? 0) + 1);
      }
      const ids = [...perSession.keys()].sort();
      // Lock the touched sessions in one global order, so concurrent batches cannot deadlock
      // (one session needs no ordering: the update below locks it). NO KEY UPDATE, like the
      // updates themselves: it does not block the KEY SHARE locks that inserting events or
      // child sessions take on a session row for their foreign keys.
      if (ids.length > 1) {
        await trx.raw("SELECT id FROM sessions WHERE id = ANY(?::uuid[]) ORDER BY id FOR NO KEY UPDATE", [ids]);
      }
      const bumped = await trx.raw<{ rows: Array<{ id: string; last_event_seq: number }> }>(
        `UPDATE sessions AS s SET last_event_seq = s.last_event_seq + v.n
         FROM unnest(?::uuid[], ?::int[]) AS v(id, n) WHERE s.id = v.id
         RETURNING s.id, s.last_event_seq`,
        columnBindings(
          ids,
          ids.map((id) => perSession.get(id)!),
        ),
      );
      const nextSeq = new Map(bumped.rows.map((r) => [r.id, r.last_event_seq - perSession.get(r.id)! + 1]));

      const prepared: PreparedEvent[] = events.map(({ e, index, id, occurredAt }) => {
        const session = sessions.byKey.get(sessionKeyOf(e))!;
        const seq = nextSeq.get(session.id)!;
        nextSeq.set(session.id, seq + 1);
        return {
          index,
          id,
          input: e,
          sessionKey: sessionKeyOf(e),
          sessionId: session.id,
          seq,
          eventType: e.eventType,
          source: e.source,
          occurredAt,
          payload: sanitizeJsonForPostgres(e.payload),
          receivedAt,
          message: e.message ?? summaryText(e.source, e.eventType, e.payload),
          cwd: e.cwd,
          machineId: e.machineId,
          agentType: e.agentType,
        };
      });

      const inserted = await this.insertEvents(trx, prepared);
      const streamSeqs = [...inserted.values()];
      // Each inserted row accepts one event: a second copy of the same key in this batch is a duplicate.
      const accepted = prepared.filter((p) => inserted.delete(keyOf(p.sessionId, p.id, p.occurredAt)));
      if (accepted.length > 0) {
        const changed = await this.applyDerivations(trx, sessions.byId, accepted);
        await notifyChanges(trx, {
          events: { fromStreamSeq: Math.min(...streamSeqs), toStreamSeq: Math.max(...streamSeqs) },
          sessionIds: [...new Set([...sessions.created, ...changed])],
        });
      } else {
        await notifyChanges(trx, { sessionIds: sessions.created });
      }
      const stored = new Set(accepted.map((p) => p.index));
      return { accepted: prepared.map((p) => stored.has(p.index)), ids: prepared.map((p) => p.id) };
    });
  }

  /** Finds or creates every session the batch names, parents before children. */
  private async resolveSessions(
    trx: Trx,
    events: ParsedIngestEvent[],
    times: Date[],
  ): Promise<{ byKey: Map<string, SessionRow>; byId: Map<string, SessionRow>; created: string[] }> {
    const created: string[] = [];
    const byKey = new Map<string, SessionRow>();
    const byId = new Map<string, SessionRow>();
    const remember = (row: SessionRow) => {
      byId.set(row.id, row);
      byKey.set(`id:${row.id}`, row);
      if (row.externalId) byKey.set(`ext:${row.externalId}`, row);
    };

    const internalIds = [...new Set(events.flatMap((e) => (e.sessionId ? [e.sessionId] : [])))];
    if (internalIds.length > 0) {
      const found = await trx.raw<{ rows: Array<Record<string, unknown>> }>(
        `SELECT ${SESSION_STATE_SQL} FROM sessions WHERE id = ANY(?::uuid[])`,
        [internalIds],
      );
      found.rows.map(toSessionRow).forEach(remember);
      const missing = internalIds.find((id) => !byId.has(id));
      if (missing) throw notFound("session", missing);
    }

    // External ids: what each needs at creation (parent, first-seen details, earliest time).
    const wanted = new Map<string, { parent?: string; event: ParsedIngestEvent; earliest: Date }>();
    events.forEach((e, i) => {
      const time = times[i]!;
      const add = (externalId: string, parent: string | undefined, event: ParsedIngestEvent) => {
        const seen = wanted.get(externalId);
        if (!seen) wanted.set(externalId, { ...(parent ? { parent } : {}), event, earliest: time });
        else {
          if (time < seen.earliest) seen.earliest = time;
          if (!seen.parent && parent) seen.parent = parent;
        }
      };
      if (e.externalSessionId) {
        if (e.parentExternalSessionId === e.externalSessionId) {
          throw new AppError("INVALID_INPUT", "parentExternalSessionId must differ from externalSessionId");
        }
        add(e.externalSessionId, e.parentExternalSessionId, e);
        if (e.parentExternalSessionId) add(e.parentExternalSessionId, undefined, e);
      }
    });
    if (wanted.size === 0) return { byKey, byId, created };

    // Parents first (a parent never names its own parent within one batch beyond one level),
    // then children; each level is one multi-row upsert in sorted order.
    const externalIds = [...wanted.keys()].sort();
    const parents = externalIds.filter((x) => !wanted.get(x)!.parent);
    const children = externalIds.filter((x) => wanted.get(x)!.parent);
    for (const level of [parents, children]) {
      if (level.length === 0) continue;
      const rows = level.map((externalId) => {
        const want = wanted.get(externalId)!;
        const parentId = want.parent ? (byKey.get(`ext:${want.parent}`)?.id ?? null) : null;
        const isChild = parentId !== null;
        const e = want.event;
        const own = e.externalSessionId === externalId; // details of a parent placeholder come from its child's event otherwise
        return {
          external_id: externalId,
          parent_session_id: parentId,
          first_at: want.earliest,
          cwd: e.cwd ? cleanText(e.cwd) : null,
          machine_id: e.machineId ? cleanText(e.machineId) : null,
          agent_id: own && isChild && e.agentId ? cleanText(e.agentId) : null,
          agent_type: own && isChild && e.agentType ? cleanText(e.agentType) : null,
          session_type: isChild ? "subagent" : "agent",
          is_user_initiated: !isChild,
        };
      });
      for (const row of await upsertSessions(trx, rows)) {
        if (row.created) created.push(row.id);
        remember(row);
      }
      // A session first seen without its parent learns it now (never re-parented once set).
      for (const externalId of level) {
        const row = byKey.get(`ext:${externalId}`)!;
        const parent = wanted.get(externalId)!.parent;
        const parentId = parent ? byKey.get(`ext:${parent}`)?.id : undefined;
        if (parentId && row.parentSessionId === null && parentId !== row.id) {
          await trx("sessions")
            .where({ id: row.id })
            .whereNull("parent_session_id")
            .update({ parent_session_id: parentId });
          row.parentSessionId = parentId;
        }
      }
    }
    return { byKey, byId, created };
  }

  /** One multi-row insert via unnest (17 parameters whatever the batch size). */
  private async insertEvents(trx: Trx, events: PreparedEvent[]): Promise<Map<string, number>> {
    const col = <T>(pick: (e: PreparedEvent) => T) => events.map(pick);
    const text = (value: string | undefined) => (value === undefined ? null : cleanText(value));
    const result = await trx.raw<{
      rows: Array<{ id: string; session_id: string; occurred_at: Date; stream_seq: number }>;
    }>(
      // Payloads travel as one JSON array, taken apart by position: one jsonb parse of the
      // whole document instead of a text[] literal (every quote escaped by the driver,
      // unescaped by PostgreSQL) and a parse per element.
      `INSERT INTO events (id, session_id, seq, event_type, source, level, message, tool_name, tool_use_id,
         parent_event_id, parent_uuid, is_sidechain, agent_id, cwd, machine_id, occurred_at, payload)
       SELECT t.id, t.session_id, t.seq, t.event_type, t.source, t.level, t.message, t.tool_name, t.tool_use_id,
         t.parent_event_id, t.parent_uuid, t.is_sidechain, t.agent_id, t.cwd, t.machine_id, t.occurred_at,
         p.payloads -> (t.position::int - 1)
       FROM unnest(?::uuid[], ?::uuid[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
         ?::text[], ?::uuid[], ?::text[], ?::boolean[], ?::text[], ?::text[], ?::text[], ?::timestamptz[])
         WITH ORDINALITY AS t(id, session_id, seq, event_type, source, level, message, tool_name, tool_use_id,
           parent_event_id, parent_uuid, is_sidechain, agent_id, cwd, machine_id, occurred_at, position)
       CROSS JOIN (SELECT ?::jsonb AS payloads) AS p
       ON CONFLICT DO NOTHING
       RETURNING id, session_id, occurred_at, stream_seq`,
      columnBindings(
        col((e) => e.id),
        col((e) => e.sessionId),
        col((e) => e.seq),
        col((e) => e.eventType),
        col((e) => e.source),
        col((e) => e.input.level),
        col((e) => text(e.message)),
        col((e) => text(e.input.toolName)),
        col((e) => text(e.input.toolUseId)),
        col((e) => e.input.parentEventId ?? null),
        col((e) => text(e.input.parentUuid)),
        col((e) => e.input.isSidechain ?? false),
        col((e) => text(e.input.agentId)),
        col((e) => text(e.cwd)),
        col((e) => text(e.machineId)),
        col((e) => e.occurredAt.toISOString()),
        JSON.stringify(col((e) => e.payload)),
      ),
    );
    return new Map(result.rows.map((r) => [keyOf(r.session_id, r.id, r.occurred_at), r.stream_seq]));
  }

  /** Derives session state from the accepted events; returns the sessions it changed. */
  private async applyDerivations(
    trx: Trx,
    sessions: Map<string, SessionRow>,
    accepted: PreparedEvent[],
  ): Promise<string[]> {
    const bySession = new Map<string, PreparedEvent[]>();
    for (const event of accepted) {
      const list = bySession.get(event.sessionId) ?? [];
      list.push(event);
      bySession.set(event.sessionId, list);
    }
    const derivations = [...bySession].map(([sessionId, events]) => ({
      sessionId,
      derived: deriveSession(sessions.get(sessionId)!, events),
    }));
    // Sessions without a project get the one where their agent works, created on first sight.
    const projects = await ensureProjects(
      trx,
      derivations.flatMap(({ sessionId, derived }) => {
        const row = sessions.get(sessionId)!;
        const path = row.projectId === null ? projectPathOf(derived.projectPath ?? row.cwd) : null;
        return path === null ? [] : [path];
      }),
    );
    for (const { sessionId, derived } of derivations) {
      const row = sessions.get(sessionId)!;
      const path = row.projectId === null ? projectPathOf(derived.projectPath ?? row.cwd) : null;
      const projectId = path === null ? undefined : projects.get(path);
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
    const changed: string[] = [];
    for (const { sessionId, derived } of derivations) {
      const tokens = await this.storeResponseMessages(trx, sessionId, derived.messages);
      const update: Record<string, unknown> = { ...derived.patch };
      for (const [key, value] of Object.entries(update)) {
        if (typeof value === "string") update[key] = cleanText(value);
      }
      if (Object.keys(derived.metadata).length > 0) {
        update.metadata = trx.raw("metadata || ?::jsonb", [JSON.stringify(sanitizeJsonForPostgres(derived.metadata))]);
      }
      if (tokens) {
        update.input_tokens = trx.raw("input_tokens + ?", [tokens.inputTokens]);
        update.output_tokens = trx.raw("output_tokens + ?", [tokens.outputTokens]);
        update.cache_read_tokens = trx.raw("cache_read_tokens + ?", [tokens.cacheReadTokens]);
        update.cache_creation_tokens = trx.raw("cache_creation_tokens + ?", [tokens.cacheCreationTokens]);
        update.cost_usd = trx.raw("cost_usd + ?::numeric", [tokens.costUsd]);
        if (tokens.unpricedMessages > 0) {
          update.unpriced_messages = trx.raw("unpriced_messages + ?", [tokens.unpricedMessages]);
        }
      }
      if (Object.keys(update).length > 0) {
        await trx("sessions").where({ id: sessionId }).update(update);
        changed.push(sessionId);
      }
    }
    return changed;
  }

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
  private async storeResponseMessages(
    trx: Trx,
    sessionId: string,
    messages: DerivedMessage[],
  ): Promise<SessionIncrements | null> {
    if (messages.length === 0) return null;
    // Merge lines of one response within the batch first (the upsert cannot touch a row twice).
    const merged = new Map<string, DerivedMessage>();
    for (const m of messages) {
      if (m.externalMessageId === null) continue;
      const seen = merged.get(m.externalMessageId);
      if (!seen) merged.set(m.externalMessageId, { ...m });
      else {
        if (m.text) seen.text = seen.text ? `${seen.text}\n\n${m.text}` : m.text;
        seen.model ??= m.model;
        seen.usage ??= m.usage;
        seen.reportedCostUsd ??= m.reportedCostUsd;
      }
    }
    if (merged.size === 0) return null;
    const list = [...merged.values()];
    const pricing = this.prices.pricing;
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
        list.map((m) => cleanText(m.externalMessageId!)),
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
      if (!insertedIds.has(cleanText(m.externalMessageId!))) return;
      totals.inputTokens += m.usage?.inputTokens ?? 0;
      totals.outputTokens += m.usage?.outputTokens ?? 0;
      totals.cacheReadTokens += m.usage?.cacheReadTokens ?? 0;
      totals.cacheCreationTokens += m.usage?.cacheCreationTokens ?? 0;
      const cost = costs[i]!;
      if (cost !== null) costUnits += cost;
      else unpriced += 1;
    });
    return { ...totals, costUsd: formatCost(costUnits), unpricedMessages: unpriced };
  }

  /** A session's timeline in its stable order (sequence), resumable with `afterSeq` or the cursor. */
  async listForSession(input: ListSessionEventsInput & { limit: number }): Promise<EventPage> {
    const rows = (await this.sessionEventsQuery(input, EVENT_COLUMNS)) as EventRow[];
    return toPage(rows, input.limit, toEventDto, (row) => [row.seq]);
  }

  /** The same timeline without payloads (see `eventSummary`): what a dashboard draws. */
  async listSummariesForSession(input: ListSessionEventsInput & { limit: number }): Promise<EventSummaryPage> {
    const rows = (await this.sessionEventsQuery(input, EVENT_SUMMARY_COLUMNS)) as Array<Omit<EventRow, "payload">>;
    return toPage(rows, input.limit, toEventSummaryDto, (row) => [row.seq]);
  }

  /** One whole event by id. */
  async get(input: EventIdInput): Promise<Event> {
    const row = (await this.knex("events").select(EVENT_COLUMNS).where("id", input.id).first()) as EventRow | undefined;
    if (!row) throw notFound("event", input.id);
    return toEventDto(row);
  }

  /** A page of a session's events (`limit + 1` rows, for the cursor), NOT_FOUND for an unknown session. */
  private async sessionEventsQuery(
    input: ListSessionEventsInput & { limit: number },
    columns: readonly string[],
  ): Promise<unknown[]> {
    const query = this.knex("events as e")
      .select(columns.map((c) => `e.${c}`))
      .where("e.session_id", input.sessionId);
    let after = input.afterSeq ?? -1;
    if (input.cursor) after = Math.max(after, decodeCursor(input.cursor, ["number"])[0] as number);
    if (after >= 0) query.where("e.seq", ">", after);
    if (input.eventTypes) query.whereIn("e.event_type", input.eventTypes);
    if (input.levels) query.whereIn("e.level", input.levels);
    if (input.from) query.where("e.occurred_at", ">=", input.from);
    if (input.to) query.where("e.occurred_at", "<", input.to);
    const rows = (await query.orderBy("e.seq", "asc").limit(input.limit + 1)) as unknown[];
    // Events exist only under their session: only an empty page needs to ask whether it does.
    if (rows.length === 0) {
      const exists = (await this.knex("sessions").select("id").where({ id: input.sessionId }).first()) as
        { id: string } | undefined;
      if (!exists) throw notFound("session", input.sessionId);
    }
    return rows;
  }

  /** Recent events across sessions, newest first. */
  async listRecent(input: ListRecentEventsInput & { limit: number }): Promise<EventPage> {
    const query = this.knex("events as e").select([
      ...EVENT_COLUMNS.map((c) => `e.${c}`),
      this.knex.raw(`${timestampKey("e.occurred_at")} AS cursor_at`),
    ]);
    if (input.eventTypes) query.whereIn("e.event_type", input.eventTypes);
    if (input.levels) query.whereIn("e.level", input.levels);
    if (input.machineId) query.where("e.machine_id", input.machineId);
    if (input.toolName) query.where("e.tool_name", input.toolName);
    if (input.projectId) {
      query.whereIn("e.session_id", this.knex("sessions").select("id").where("project_id", input.projectId));
    }
    if (input.from) query.where("e.occurred_at", ">=", input.from);
    if (input.to) query.where("e.occurred_at", "<", input.to);
    if (input.cursor) {
      const [at, seq] = decodeCursor(input.cursor, ["string", "number"]) as [string, number];
      assertCursorValues([at], ["timestamp"]);
      query.whereRaw("(e.occurred_at, e.stream_seq) < (?::timestamptz, ?)", [at, seq]);
    }
    const rows = (await query
      .orderBy([
        { column: "e.occurred_at", order: "desc" },
        { column: "e.stream_seq", order: "desc" },
      ])
      .limit(input.limit + 1)) as Array<EventRow & { cursor_at: string }>;
    // The cursor keeps the time to the microsecond: a millisecond one (a JS Date) skipped rows.
    return toPage(rows, input.limit, toEventDto, (row) => [row.cursor_at, row.stream_seq]);
  }

  /** Events of a session counted by type (seed 002's get_session_event_counts). */
  async countsByType(input: { sessionId: string }): Promise<Array<{ eventType: string; count: number }>> {
    const rows = (await this.knex("events")
      .select("event_type")
      .count({ count: "*" })
      .where("session_id", input.sessionId)
      .groupBy("event_type")
      .orderBy([{ column: "count", order: "desc" }, { column: "event_type" }])) as Array<{
      event_type: string;
      count: number | string;
    }>;
    return rows.map((r) => ({ eventType: r.event_type, count: Number(r.count) }));
  }

  /** Events stored after a stream position, oldest first (the live bus replays with this). */
  async listAfterStreamSeq(
    afterStreamSeq: number,
    filter: { sessionId?: string; projectId?: string; toStreamSeq?: number },
    limit: number,
  ): Promise<Array<EventRow>> {
    const query = this.knex("events as e")
      .select(EVENT_COLUMNS.map((c) => `e.${c}`))
      .where("e.stream_seq", ">", afterStreamSeq);
    if (filter.toStreamSeq !== undefined) query.where("e.stream_seq", "<=", filter.toStreamSeq);
    if (filter.sessionId) query.where("e.session_id", filter.sessionId);
    if (filter.projectId) {
      query.whereIn("e.session_id", this.knex("sessions").select("id").where("project_id", filter.projectId));
    }
    return (await query.orderBy("e.stream_seq", "asc").limit(limit)) as EventRow[];
  }
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

/** A new project's name: the last segment of its path (`/home/me/app` -> `app`). */
function projectNameOf(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).at(-1) ?? path;
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

/**
 * The event with its external session ids as PostgreSQL will hold them (`cleanText`): the
 * driver writes a lone surrogate as U+FFFD, and the batch finds its sessions again by the
 * ids the database returns, so its own keys must be those same strings.
 */
function withStorableExternalIds(e: ParsedIngestEvent): ParsedIngestEvent {
  const external = e.externalSessionId === undefined ? undefined : cleanText(e.externalSessionId);
  const parent = e.parentExternalSessionId === undefined ? undefined : cleanText(e.parentExternalSessionId);
  if (external === e.externalSessionId && parent === e.parentExternalSessionId) return e;
  return {
    ...e,
    ...(external === undefined ? {} : { externalSessionId: external }),
    ...(parent === undefined ? {} : { parentExternalSessionId: parent }),
  };
}

function sessionKeyOf(e: ParsedIngestEvent): string {
  return e.sessionId ? `id:${e.sessionId}` : `ext:${e.externalSessionId!}`;
}
