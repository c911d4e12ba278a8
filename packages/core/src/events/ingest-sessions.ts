/**
 * Ingest, step one: the sessions a batch names, found or created (parents before children),
 * by internal id or by external id.
 */
import type { ParsedIngestEvent } from "@logbook/contracts";
import type { Knex } from "@logbook/db";

import { AppError, notFound } from "../errors.js";
import { cleanText } from "../json.js";
import { known } from "../invariants.js";
import { columnBindings } from "../sql.js";
import type { SessionState } from "./derive.js";

type Trx = Knex.Transaction;

export interface SessionRow extends SessionState {
  id: string;
  externalId: string | null;
  parentSessionId: string | null;
  projectId: string | null;
}

const SESSION_STATE_SQL = `id, external_id, parent_session_id, status, status_reason, status_changed_at, started_at, last_activity_at,
  initial_query, title, cwd, project_id`;

function toSessionRow(raw: Record<string, unknown>): SessionRow {
  return {
    id: raw.id as string,
    externalId: raw.external_id as string | null,
    parentSessionId: raw.parent_session_id as string | null,
    status: raw.status as SessionRow["status"],
    statusReason: raw.status_reason as string | null,
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

export interface ResolvedSessions {
  byKey: Map<string, SessionRow>;
  byId: Map<string, SessionRow>;
  created: string[];
  /**
   * Existing sessions first seen without a parent that this batch names one for: the caller
   * links them (`linkParents`) once it holds the batch's session rows in id order, so the
   * link's UPDATE locks nothing out of that order.
   */
  links: Array<{ childId: string; parentId: string }>;
}

/** Finds or creates every session the batch names, parents before children. */
export async function resolveSessions(trx: Trx, events: ParsedIngestEvent[], times: Date[]): Promise<ResolvedSessions> {
  const created: string[] = [];
  const links: ResolvedSessions["links"] = [];
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
    const time = known(times[i], "an event's time");
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
  if (wanted.size === 0) return { byKey, byId, created, links };

  // Parents first (a parent never names its own parent within one batch beyond one level),
  // then children; each level is one multi-row upsert in sorted order.
  const byExternalId = [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parents = byExternalId.filter(([, want]) => !want.parent);
  const children = byExternalId.filter(([, want]) => want.parent);
  for (const level of [parents, children]) {
    if (level.length === 0) continue;
    const rows = level.map(([externalId, want]) => {
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
    // A session first seen without its parent learns it (never re-parented once set), once
    // the caller holds the rows in id order (`linkParents`).
    for (const [externalId, { parent }] of level) {
      const row = known(byKey.get(`ext:${externalId}`), "the session just upserted");
      const parentId = parent ? byKey.get(`ext:${parent}`)?.id : undefined;
      if (parentId && row.parentSessionId === null && parentId !== row.id) {
        links.push({ childId: row.id, parentId });
        row.parentSessionId = parentId;
      }
    }
  }
  return { byKey, byId, created, links };
}

/** Writes the links `resolveSessions` found; the caller already holds both rows of each. */
export async function linkParents(trx: Trx, links: ResolvedSessions["links"]): Promise<void> {
  for (const { childId, parentId } of links) {
    await trx("sessions").where({ id: childId }).whereNull("parent_session_id").update({ parent_session_id: parentId });
  }
}

/**
 * The event with its external session ids as PostgreSQL will hold them (`cleanText`): the
 * driver writes a lone surrogate as U+FFFD, and the batch finds its sessions again by the
 * ids the database returns, so its own keys must be those same strings.
 */
export function withStorableExternalIds(e: ParsedIngestEvent): ParsedIngestEvent {
  const external = e.externalSessionId === undefined ? undefined : cleanText(e.externalSessionId);
  const parent = e.parentExternalSessionId === undefined ? undefined : cleanText(e.parentExternalSessionId);
  if (external === e.externalSessionId && parent === e.parentExternalSessionId) return e;
  return {
    ...e,
    ...(external === undefined ? {} : { externalSessionId: external }),
    ...(parent === undefined ? {} : { parentExternalSessionId: parent }),
  };
}

export function sessionKeyOf(e: ParsedIngestEvent): string {
  return e.sessionId
    ? `id:${e.sessionId}`
    : `ext:${known(e.externalSessionId, "an event's session (the contract requires one of the two ids)")}`;
}
