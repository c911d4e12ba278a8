/**
 * Ingest in one round trip (issue 15), for the common case: every session of the batch is
 * one this server already knows (it ingested into it before) or one it has never seen (its
 * first events: the call creates it, and its project if needed), no response messages to
 * merge, no event sent twice. The state each known session was in after its last ingest here
 * is kept in memory (`KnownSessions`); a new session starts from the row the ordinary
 * pipeline would insert. The batch's derivation is made from that, and one call of
 * `logbook_ingest_group` (migrations 20261201185121 to 20261204230000) creates the new
 * sessions, locks all of them, checks that they are still in that state, and stores
 * everything. If they are not (another writer or replica, a retry, a session deleted, a "new"
 * session that exists already), the call keeps nothing and the ordinary pipeline runs: what
 * is derived is always what that pipeline derives from the state it reads under lock.
 */
import { randomUUID } from "node:crypto";

import type { ParsedIngestEvent } from "@logbook/contracts";
import { runPrepared, type Knex, type PreparedStatement } from "@logbook/db";

import { toAppError } from "../errors.js";
import { known } from "../invariants.js";
import { cleanText } from "../json.js";
import { sessionsNoticePayloads } from "../live/notify.js";
import { atBind } from "../sql.js";
import { projectNameOf } from "../projects/project-path.js";
import { isUnknownTime } from "../time.js";
import { deriveSessions, missingProjectPath, storablePatch, type PreparedEvent } from "./ingest-derivations.js";
import { eventColumns, sessionCounts, type TimedEvent } from "./ingest-pipeline.js";
import type { SessionRow } from "./ingest-sessions.js";

/** Raised by `logbook_ingest_group` when a session is not in the expected state or an event was already stored. */
const NOT_AS_EXPECTED = "LB001";
const FOREIGN_KEY_VIOLATION = "23503";

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
  /** Calls in flight, by the external ids of their sessions: settled when the call is answered, with its error if it failed. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  /**
   * The calls in flight into these sessions, settled together; null when there are none.
   * Two calls into one session sent at once on two pooled connections may reach the
   * database in either order, and the second in sent order, finding the first's state not
   * yet there, would fail its check: so a group waits until the previous call into its
   * sessions is answered and derives from the state that call left. Null, not a settled
   * promise, so that a caller finding none goes on to `track` without yielding (two groups
   * naming one new session must not both create it). Resolves with each call's error, or
   * undefined for a call that succeeded.
   */
  inFlightFor(externalIds: Iterable<string>): Promise<unknown[]> | null {
    const pending = new Set<Promise<unknown>>();
    for (const id of externalIds) {
      const call = this.inFlight.get(id);
      if (call) pending.add(call);
    }
    return pending.size === 0 ? null : Promise.all(pending);
  }

  /** Marks a call into these sessions in flight until `call` settles. */
  track(externalIds: Iterable<string>, call: Promise<unknown>): void {
    const done = call.then(
      () => undefined,
      (error: unknown) => error,
    );
    const ids = [...externalIds];
    for (const id of ids) this.inFlight.set(id, done);
    void done.then(() => {
      for (const id of ids) if (this.inFlight.get(id) === done) this.inFlight.delete(id);
    });
  }

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
  if ("status_reason" in patch) next.statusReason = patch.status_reason as string | null;
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

/** A session the call creates: the row the ordinary ingest's upsert would insert. */
interface NewSession {
  id: string;
  external_id: string;
  parent_session_id: string | null;
  first_at: string;
  cwd: string | null;
  machine_id: string | null;
  agent_id: string | null;
  agent_type: string | null;
  session_type: "agent" | "subagent";
  is_user_initiated: boolean;
  project_id: string | null;
}

/**
 * The session a first-seen external id gets, as `resolveSessions` would create it from the
 * same events, or null when the ordinary pipeline must decide (a parent this server does not
 * know, events that disagree on the parent). Its first event gives the details, its
 * earliest event the times.
 */
function newSession(
  externalId: string,
  own: TimedEvent[],
  sessions: KnownSessions,
  receivedAt: Date,
): { row: SessionRow; insert: NewSession } | null {
  const first = known(own[0], "a new session's first event").e;
  const parentExternalId = first.parentExternalSessionId;
  if (own.some(({ e }) => e.parentExternalSessionId !== parentExternalId)) return null;
  if (parentExternalId === externalId) return null; // refused by the ordinary pipeline
  const parent = parentExternalId === undefined ? null : sessions.get(parentExternalId);
  if (parent === undefined) return null;
  const isChild = parent !== null;
  const firstAt = new Date(
    Math.min(...own.map(({ occurredAt }) => (isUnknownTime(occurredAt) ? receivedAt : occurredAt).getTime())),
  );
  const cwd = first.cwd ? cleanText(first.cwd) : null;
  const row: SessionRow = {
    id: randomUUID(),
    externalId,
    parentSessionId: parent?.id ?? null,
    status: "pending",
    statusReason: null,
    statusChangedAt: firstAt,
    startedAt: null,
    lastActivityAt: firstAt,
    initialQuery: null,
    title: null,
    cwd,
    // A subagent works in its parent's project, as `applyDerivations` decides for the ordinary pipeline.
    projectId: parent?.projectId ?? null,
  };
  return {
    row,
    insert: {
      id: row.id,
      external_id: externalId,
      parent_session_id: row.parentSessionId,
      first_at: firstAt.toISOString(),
      cwd,
      machine_id: first.machineId ? cleanText(first.machineId) : null,
      agent_id: isChild && first.agentId ? cleanText(first.agentId) : null,
      agent_type: isChild && first.agentType ? cleanText(first.agentType) : null,
      session_type: isChild ? "subagent" : "agent",
      is_user_initiated: !isChild,
      project_id: row.projectId,
    },
  };
}

/**
 * The batch in one call, or null when it does not qualify or the database found the
 * sessions in another state (then nothing was written). Sessions this server has not
 * ingested into yet are created by the call. `prepare` makes the events ready to insert
 * given each one's session id.
 */
export async function ingestInOneCall(
  knex: Knex,
  sessions: KnownSessions,
  events: TimedEvent[],
  receivedAt: Date,
  prepare: (sessionIdOf: (e: ParsedIngestEvent) => string) => PreparedEvent[],
): Promise<{ accepted: boolean[]; ids: string[] } | null> {
  const externalIds = new Set<string>();
  for (const { e } of events) {
    if (e.sessionId !== undefined || e.externalSessionId === undefined) return null;
    externalIds.add(e.externalSessionId);
  }
  // Again after each wait: another group may have taken one of the sessions meanwhile.
  for (let call = sessions.inFlightFor(externalIds); call !== null; call = sessions.inFlightFor(externalIds)) {
    // A call into the same sessions that failed because the database is busy or down: this
    // one, queued behind it, fails the same way at once. Trying would wait out a timeout of
    // its own, and the calls queued behind it one more each (db-limits saw 6 s answers).
    const busy = (await call).map(toAppError).find((error) => error?.code === "UNAVAILABLE");
    if (busy) throw busy;
  }
  const rows = new Map<string, SessionRow>();
  const sessionIdOf = new Map<string, string>();
  const keys = new Set<string>();
  const unseen = new Map<string, TimedEvent[]>();
  for (const event of events) {
    const { e, arrivalDated } = event;
    if (e.sessionId !== undefined || e.externalSessionId === undefined || arrivalDated) return null;
    const row = sessions.get(e.externalSessionId);
    if (row === undefined) {
      const own = unseen.get(e.externalSessionId) ?? [];
      own.push(event);
      unseen.set(e.externalSessionId, own);
      continue;
    }
    // A child not yet linked to its parent is linked by the ordinary pipeline.
    if (e.parentExternalSessionId !== undefined && row.parentSessionId === null) return null;
    rows.set(row.id, row);
    sessionIdOf.set(e.externalSessionId, row.id);
  }
  // New sessions, parents before children and each level in external id order, as the
  // ordinary pipeline creates (and announces) them.
  const created: NewSession[] = [];
  for (const [externalId, own] of unseen) {
    const made = newSession(externalId, own, sessions, receivedAt);
    if (made === null) return null;
    created.push(made.insert);
    rows.set(made.row.id, made.row);
    sessionIdOf.set(externalId, made.row.id);
  }
  created.sort((a, b) =>
    a.session_type !== b.session_type
      ? a.session_type === "agent"
        ? -1
        : 1
      : a.external_id < b.external_id
        ? -1
        : a.external_id > b.external_id
          ? 1
          : 0,
  );
  for (const { e, id, occurredAt } of events) {
    const key = `${known(sessionIdOf.get(e.externalSessionId ?? ""), "an event's session")}|${id}|${occurredAt.getTime()}`;
    if (keys.has(key)) return null; // the same event twice in one batch: the second is a duplicate
    keys.add(key);
  }
  const prepared = prepare((e) => known(sessionIdOf.get(e.externalSessionId ?? ""), "a known session's id"));
  const derivations = deriveSessions(rows, prepared);

  const updates: Array<{
    id: string;
    p: Record<string, unknown>;
    m: unknown;
    redactions: number;
    replaced: number;
    project_path?: string;
    project_name?: string;
  }> = [];
  const after: SessionRow[] = [];
  const counts = sessionCounts(prepared);
  for (const { sessionId, row, derived } of derivations) {
    if (derived.messages.some((m) => m.externalMessageId !== null)) return null;
    const { patch, metadata } = storablePatch(derived);
    if (Object.keys(patch).some((column) => !FUNCTION_COLUMNS.has(column))) return null;
    // A session without a project gets the one at its path (the call finds or creates it).
    // A path the database would store changed is left to the ordinary pipeline, which looks it up as sent.
    const projectPath = missingProjectPath(row, derived);
    if (projectPath !== null && cleanText(projectPath) !== projectPath) return null;
    // A subagent that would get a project of its own working directory: its parent's, if the
    // parent has one by now, comes first, and the parent's row here may be older than that
    // (remembered before its project came, or never locked). The ordinary pipeline reads it.
    if (projectPath !== null && row.parentSessionId !== null) return null;
    after.push(stateAfter(row, patch));
    const { redactions, replaced } = counts.get(sessionId) ?? { redactions: 0, replaced: 0 };
    if (Object.keys(patch).length > 0 || metadata !== null || redactions > 0 || replaced > 0 || projectPath !== null)
      updates.push({
        id: sessionId,
        p: patch,
        m: metadata,
        redactions,
        replaced,
        ...(projectPath === null
          ? {}
          : { project_path: projectPath, project_name: cleanText(projectNameOf(projectPath)) }),
      });
  }
  // As the ordinary pipeline tells them: sessions created, then those with a derived change,
  // then those with redactions or replaced characters.
  const changed = [
    ...new Set([
      ...created.map((n) => n.id),
      ...updates
        .filter((u) => Object.keys(u.p).length > 0 || u.m !== null || u.project_path !== undefined)
        .map((u) => u.id),
      ...updates.filter((u) => u.redactions > 0 || u.replaced > 0).map((u) => u.id),
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

  // A batch sent while this one is in flight derives from the state this one leaves (a
  // project being assigned is not known yet: such a batch finds it set and falls back).
  for (const row of after) sessions.remember(row);
  // A named statement sent by the driver itself: each pooled connection parses and plans the
  // call once, then only binds. What the answer teaches is remembered before the call counts
  // as settled (`track`), so the next group into these sessions derives from it.
  const call = runPrepared<{ session_id: string; project_id: string | null }>(
    knex,
    INGEST_GROUP,
    groupValues(created, prepared, expected, messages, updates, sessionsNoticePayloads(changed)),
  ).then(
    (rows) => {
      const projectOf = new Map(rows.map((a) => [a.session_id, a.project_id]));
      for (const row of after) {
        const projectId = projectOf.get(row.id);
        if (projectId !== undefined) sessions.remember({ ...row, projectId });
      }
    },
    (error: unknown) => {
      for (const row of after) if (row.externalId !== null) sessions.forget(row.externalId);
      throw error;
    },
  );
  sessions.track(externalIds, call);
  try {
    await call;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // LB001: not in the expected state; 23503: a new child's parent was deleted meanwhile.
    if (code === NOT_AS_EXPECTED || code === FOREIGN_KEY_VIOLATION) return null;
    throw error;
  }
  return { accepted: prepared.map(() => true), ids: prepared.map((p) => p.id) };
}

/** The call, with `$n` placeholders: the driver sends the values as they are. */
const INGEST_GROUP: PreparedStatement = {
  name: "logbook_ingest_group",
  text: `SELECT session_id, project_id FROM logbook_ingest_group($1::jsonb, $2::jsonb, $3::uuid[], $4::uuid[],
  $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::uuid[], $13::text[],
  $14::boolean[], $15::text[], $16::text[], $17::text[], $18::timestamptz[], $19::int[], $20::int[], $21::jsonb,
  $22::jsonb, $23::jsonb, $24::text[])`,
};

function groupValues(
  created: NewSession[],
  events: PreparedEvent[],
  expected: unknown[],
  messages: unknown[],
  updates: unknown[],
  notices: string[],
): unknown[] {
  // Made as the call is sent, not held until its answer (see atBind).
  return [
    atBind(() => (created.length > 0 ? JSON.stringify(created) : null)),
    atBind(() => JSON.stringify(expected)),
    ...eventColumns(events),
    atBind(() => (messages.length > 0 ? JSON.stringify(messages) : null)),
    atBind(() => (updates.length > 0 ? JSON.stringify(updates) : null)),
    notices,
  ];
}
