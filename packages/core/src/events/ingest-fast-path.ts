/**
 * Ingest in one round trip (issue 15), for the common case: every session of the batch is
 * one this server already knows (it ingested into it before), nothing to create, no project
 * to find, no response messages to merge, no event sent twice. The state each session was in
 * after its last ingest here is kept in memory (`KnownSessions`); the batch's derivation is
 * made from it, and one call of `logbook_ingest_group` (migration 20261201185121) locks the
 * sessions, checks that they are still in that state, and stores everything. If they are not
 * (another writer or replica, a retry, a session deleted), the call keeps nothing and the
 * ordinary pipeline runs: what is derived is always what that pipeline derives from the
 * state it reads under lock.
 */
import type { ParsedIngestEvent } from "@logbook/contracts";
import type { Knex } from "@logbook/db";

import { known } from "../invariants.js";
import { cleanText } from "../json.js";
import { sessionsNoticePayloads } from "../live/notify.js";
import { columnBindings } from "../sql.js";
import { deriveSessions, missingProjectPath, storablePatch, type PreparedEvent } from "./ingest-derivations.js";
import { eventColumns, type TimedEvent } from "./ingest-pipeline.js";
import type { SessionRow } from "./ingest-sessions.js";

/** Raised by `logbook_ingest_group` when a session is not in the expected state or an event was already stored. */
const NOT_AS_EXPECTED = "LB001";

/**
 * The `sessions` columns the function's UPDATE writes (its migration lists them). A derived
 * change to any other column (a project found) goes through the ordinary pipeline.
 */
const FUNCTION_COLUMNS = new Set([
  "status",
  "status_reason",
  "status_changed_at",
  "is_working",
  "started_at",
  "ended_at",
  "last_activity_at",
  "cwd",
  "machine_id",
  "agent_type",
  "transcript_path",
  "permission_mode",
  "model",
  "initial_query",
  "title",
  "error_message",
]);

/** Sessions remembered at most; the oldest remembered goes first. */
const MAX_KNOWN = 20_000;

/**
 * The state of sessions as this server's last ingest into each left it (or, while a batch is
 * in flight, as it will leave it: a batch that follows derives from that, and if the first
 * fails, the second's check fails too). Only a hint: the database checks it.
 */
export class KnownSessions {
  private readonly byExternalId = new Map<string, SessionRow>();

  get(externalId: string): SessionRow | undefined {
    return this.byExternalId.get(externalId);
  }

  remember(row: SessionRow): void {
    if (row.externalId === null) return;
    this.byExternalId.delete(row.externalId);
    this.byExternalId.set(row.externalId, row);
    if (this.byExternalId.size > MAX_KNOWN) {
      const oldest = this.byExternalId.keys().next();
      if (!oldest.done) this.byExternalId.delete(oldest.value);
    }
  }

  forget(externalId: string): void {
    this.byExternalId.delete(externalId);
  }
}

/** A session's state after a stored patch (the columns derivation reads). */
export function stateAfter(row: SessionRow, patch: Record<string, unknown>): SessionRow {
  const next = { ...row };
  if ("status" in patch) next.status = patch.status as SessionRow["status"];
  if ("status_changed_at" in patch) next.statusChangedAt = patch.status_changed_at as Date;
  if ("started_at" in patch) next.startedAt = patch.started_at as Date | null;
  if ("last_activity_at" in patch) next.lastActivityAt = patch.last_activity_at as Date;
  if ("initial_query" in patch) next.initialQuery = patch.initial_query as string | null;
  if ("title" in patch) next.title = patch.title as string | null;
  if ("cwd" in patch) next.cwd = patch.cwd as string | null;
  if ("project_id" in patch) next.projectId = patch.project_id as string | null;
  return next;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/**
 * The batch in one call, or null when it does not qualify or the database found the
 * sessions in another state (then nothing was written). `prepare` makes the events ready
 * to insert given each one's session id.
 */
export async function ingestKnownSessions(
  knex: Knex,
  sessions: KnownSessions,
  events: TimedEvent[],
  prepare: (sessionIdOf: (e: ParsedIngestEvent) => string) => PreparedEvent[],
): Promise<{ accepted: boolean[]; ids: string[] } | null> {
  const rows = new Map<string, SessionRow>();
  const sessionIdOf = new Map<string, string>();
  const keys = new Set<string>();
  for (const { e, id, occurredAt, arrivalDated } of events) {
    if (e.sessionId !== undefined || e.externalSessionId === undefined || arrivalDated) return null;
    const row = sessions.get(e.externalSessionId);
    // A child not yet linked to its parent is linked by the ordinary pipeline.
    if (!row || (e.parentExternalSessionId !== undefined && row.parentSessionId === null)) return null;
    const key = `${row.id}|${id}|${occurredAt.getTime()}`;
    if (keys.has(key)) return null; // the same event twice in one batch: the second is a duplicate
    keys.add(key);
    rows.set(row.id, row);
    sessionIdOf.set(e.externalSessionId, row.id);
  }
  const prepared = prepare((e) => known(sessionIdOf.get(e.externalSessionId ?? ""), "a known session's id"));
  const derivations = deriveSessions(rows, prepared);

  const updates: Array<{ id: string; p: Record<string, unknown>; m: unknown; redactions: number }> = [];
  const after: SessionRow[] = [];
  const redactions = new Map<string, number>();
  for (const p of prepared) redactions.set(p.sessionId, (redactions.get(p.sessionId) ?? 0) + p.redactions);
  for (const { sessionId, row, derived } of derivations) {
    if (missingProjectPath(row, derived) !== null) return null;
    if (derived.messages.some((m) => m.externalMessageId !== null)) return null;
    const { patch, metadata } = storablePatch(derived);
    if (Object.keys(patch).some((column) => !FUNCTION_COLUMNS.has(column))) return null;
    after.push(stateAfter(row, patch));
    const redacted = known(redactions.get(sessionId), "a session's redaction count");
    if (Object.keys(patch).length > 0 || metadata !== null || redacted > 0)
      updates.push({ id: sessionId, p: patch, m: metadata, redactions: redacted });
  }
  // As the ordinary pipeline tells them: sessions with a derived change, then those with redactions.
  const changed = [
    ...new Set([
      ...updates.filter((u) => Object.keys(u.p).length > 0 || u.m !== null).map((u) => u.id),
      ...updates.filter((u) => u.redactions > 0).map((u) => u.id),
    ]),
  ];
  const messages = derivations.flatMap(({ sessionId, derived }) =>
    derived.messages.map((m) => ({
      session_id: sessionId,
      role: m.role,
      text: cleanText(m.text),
      model: m.model,
      source_event_id: m.sourceEventId,
      claude_session_id: m.claudeSessionId,
      created_at: m.createdAt.toISOString(),
    })),
  );
  const expected = derivations.map(({ sessionId, row }) => ({
    id: sessionId,
    n: prepared.filter((p) => p.sessionId === sessionId).length,
    status: row.status,
    status_changed_at: iso(row.statusChangedAt),
    started_at: iso(row.startedAt),
    last_activity_at: iso(row.lastActivityAt),
    initial_query: row.initialQuery,
    title: row.title,
    cwd: row.cwd,
    project_id: row.projectId,
    parent_session_id: row.parentSessionId,
  }));

  // A batch sent while this one is in flight derives from the state this one leaves.
  for (const row of after) sessions.remember(row);
  try {
    await knex.raw(CALL, bindingsOf(prepared, expected, messages, updates, sessionsNoticePayloads(changed)));
  } catch (error) {
    for (const row of after) if (row.externalId !== null) sessions.forget(row.externalId);
    if ((error as { code?: unknown }).code === NOT_AS_EXPECTED) return null;
    throw error;
  }
  return { accepted: prepared.map(() => true), ids: prepared.map((p) => p.id) };
}

const CALL = `SELECT 1 FROM logbook_ingest_group(?::jsonb, ?::uuid[], ?::uuid[], ?::bigint[], ?::text[], ?::text[],
  ?::text[], ?::text[], ?::text[], ?::text[], ?::uuid[], ?::text[], ?::boolean[], ?::text[], ?::text[], ?::text[],
  ?::timestamptz[], ?::int[], ?::jsonb, ?::jsonb, ?::jsonb, ?::text[])`;

function bindingsOf(
  events: PreparedEvent[],
  expected: unknown[],
  messages: unknown[],
  updates: unknown[],
  notices: string[],
): Knex.RawBinding[] {
  return columnBindings(
    JSON.stringify(expected),
    ...eventColumns(events),
    messages.length > 0 ? JSON.stringify(messages) : null,
    updates.length > 0 ? JSON.stringify(updates) : null,
    notices,
  );
}
