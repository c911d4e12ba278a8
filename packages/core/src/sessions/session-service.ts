import {
  isTerminalStatus,
  type CreateSessionInput,
  type GetSessionInput,
  type InactivityPolicy,
  type InactivitySweepResult,
  type NeedsYouInput,
  type NeedsYouItem,
  type ListSessionsInput,
  type Session,
  type SessionPage,
  type SessionStatus,
  type SessionTree,
  type TokenUsage,
  type TransitionSessionInput,
  type UpdateSessionInput,
} from "@logbook/contracts";
import { SessionModel, type Knex } from "@logbook/db";

import type { Redactor } from "../redaction/redactor.js";
import { redactFields, redactorOf } from "../redaction/redact-record.js";
import { clockOf, readerOf, type CoreDeps } from "../deps.js";
import { AppError, notFound, violatedUniqueConstraint } from "../errors.js";
import { sanitizeJsonForPostgres } from "../json.js";
import { notifySessions } from "../live/notify.js";
import { decodeCursor, likePattern, toPage } from "../pagination.js";
import { assertCursorValues, timestampKey } from "../pagination.js";
import { upsertProjectByPath } from "../projects/project-service.js";
import { assertTransition, inactivityEndReason } from "./session-status.js";
import { SESSION_COLUMNS, sessionFieldsOf, toSessionDto } from "./session-dto.js";
import { returnedRow } from "../invariants.js";

type Db = Knex | Knex.Transaction;

/**
 * What a person or an agent wrote into a session, redacted before it is stored (paths and
 * ids are not: a project is found by its path).
 */
const SESSION_TEXT_FIELDS = ["title", "label", "initialQuery", "context", "config", "metadata"] as const;

const qualified = SESSION_COLUMNS.map((c) => `s.${c}`);

/** Reads of a tree that keeps growing while it is locked before archive or delete give up (409). */
const SUBTREE_LOCK_ATTEMPTS = 5;

/** How far up a tree the loop check walks: far deeper than any agent nests its subagents. */
const MAX_TREE_DEPTH = 1_000;

/** Sessions: creation, lookup, filtered listing, the status lifecycle and the tree. */
export class SessionService {
  private readonly knex: Knex;
  /** Lists read here: a streaming replica when configured (they may lag it by a moment). */
  private readonly reader: Knex;
  private readonly now: () => Date;
  private readonly redactor: Redactor;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
    this.reader = readerOf(deps);
    this.now = clockOf(deps);
    this.redactor = redactorOf(deps);
  }

  async create(given: CreateSessionInput): Promise<Session> {
    const { input, count } = redactFields(this.redactor, given, SESSION_TEXT_FIELDS);
    return this.knex
      .transaction((trx) => this.insertSession(trx, input, count))
      .catch((error: unknown) => {
        // An id that is taken, or two creates with the same external id at once (both pass
        // the check below; one insert waits for the other, then violates the key): CONFLICT,
        // as the check answers.
        const constraint = violatedUniqueConstraint(error);
        if (constraint === "sessions_pkey" && input.id) {
          throw new AppError("CONFLICT", `a session with id ${input.id} already exists`, {
            details: { id: input.id },
            cause: error,
          });
        }
        if (constraint === "sessions_external_id_unique" && input.externalId) {
          throw externalIdTaken(input.externalId, null, error);
        }
        throw error;
      });
  }

  private async insertSession(trx: Knex.Transaction, input: CreateSessionInput, count: number): Promise<Session> {
    if (input.parentSessionId) await this.requireRow(trx, input.parentSessionId, "parent session");
    if (input.externalId) {
      const taken = await SessionModel.query(trx).select("id").findOne({ external_id: input.externalId });
      if (taken) throw externalIdTaken(input.externalId, taken.id);
    }
    const projectId = input.projectPath ? (await upsertProjectByPath(trx, input.projectPath)).id : null;
    const status: SessionStatus = input.status ?? "pending";
    const now = this.now();
    const row = await SessionModel.query(trx)
      .insert({
        ...(input.id ? { id: input.id } : {}),
        externalId: input.externalId ?? null,
        parentSessionId: input.parentSessionId ?? null,
        projectId,
        status,
        statusChangedAt: now,
        sessionType: input.sessionType ?? "agent",
        mode: input.mode ?? null,
        permissionMode: input.permissionMode ?? null,
        title: input.title ?? null,
        label: input.label ?? null,
        initialQuery: input.initialQuery ?? null,
        context: input.context ?? null,
        cwd: input.cwd ?? input.projectPath ?? null,
        transcriptPath: input.transcriptPath ?? null,
        machineId: input.machineId ?? null,
        agentId: input.agentId ?? null,
        agentType: input.agentType ?? null,
        model: input.model ?? null,
        processId: input.processId ?? null,
        isUserInitiated: input.isUserInitiated ?? input.parentSessionId === undefined,
        pinned: input.pinned ?? false,
        hidden: input.hidden ?? false,
        isWorking: status === "active",
        config: sanitizeJsonForPostgres(input.config ?? {}),
        metadata: sanitizeJsonForPostgres(input.metadata ?? {}),
        startedAt: status === "pending" || status === "initializing" ? null : now,
        endedAt: isTerminalStatus(status) ? now : null,
        lastActivityAt: now,
        redactions: count,
      })
      .returning(SESSION_COLUMNS as unknown as string[]);
    await notifySessions(trx, [row.id]);
    return toSessionDto(row);
  }

  async get(input: GetSessionInput): Promise<Session> {
    const query = SessionModel.query(this.knex).select(SESSION_COLUMNS);
    const row = "id" in input ? await query.findById(input.id) : await query.findOne({ external_id: input.externalId });
    if (!row) {
      if ("id" in input) throw notFound("session", input.id);
      throw new AppError("NOT_FOUND", `session with external id ${input.externalId} was not found`, {
        details: { externalId: input.externalId },
      });
    }
    return toSessionDto(row);
  }

  async list(input: ListSessionsInput): Promise<SessionPage> {
    const sortColumn = input.sort === "created" ? "created_at" : "last_activity_at";
    // The cursor keeps the timestamp's microseconds: a millisecond one would skip or repeat rows.
    // The query builder, not the model: see sessionFieldsOf.
    const query = this.reader("sessions as s").select([
      ...qualified,
      this.reader.raw(`${timestampKey(`s.${sortColumn}`)} AS cursor_key`),
    ]);
    if (input.status) query.whereIn("s.status", input.status);
    if (input.projectId) query.where("s.project_id", input.projectId);
    if (input.machineId) query.where("s.machine_id", input.machineId);
    if (input.agentType) query.where("s.agent_type", input.agentType);
    if (input.sessionType) query.where("s.session_type", input.sessionType);
    if (input.parentSessionId === null) query.whereNull("s.parent_session_id");
    else if (input.parentSessionId) query.where("s.parent_session_id", input.parentSessionId);
    if (input.pinned !== undefined) query.where("s.pinned", input.pinned);
    if (input.hidden !== undefined) query.where("s.hidden", input.hidden);
    if (input.label) query.where("s.label", input.label);
    if (input.archived === true) query.whereNotNull("s.archived_at");
    else query.whereNull("s.archived_at");
    if (input.from) query.where(`s.${sortColumn}`, ">=", input.from);
    if (input.to) query.where(`s.${sortColumn}`, "<", input.to);
    if (input.search) {
      const pattern = likePattern(input.search);
      query.where((w) =>
        w
          .where("s.title", "ilike", pattern)
          .orWhere("s.label", "ilike", pattern)
          .orWhere("s.initial_query", "ilike", pattern),
      );
    }
    if (input.cursor) {
      const values = decodeCursor(input.cursor, ["string", "string"]);
      assertCursorValues(values, ["timestamp", "uuid"]);
      query.whereRaw(`(s.${sortColumn}, s.id) < (?::timestamptz, ?::uuid)`, values);
    }
    const rows = (await query
      .orderBy([
        { column: `s.${sortColumn}`, order: "desc" },
        { column: "s.id", order: "desc" },
      ])
      .limit(input.limit + 1)) as Array<Record<string, unknown> & { id: string; cursor_key: string }>;
    return toPage(
      rows,
      input.limit,
      (row) => toSessionDto(sessionFieldsOf(row)),
      (row) => [String(row.cursor_key), row.id],
    );
  }

  async update(given: UpdateSessionInput): Promise<Session> {
    const redacted = redactFields(this.redactor, given, [
      "title",
      "label",
      "context",
      "config",
      "metadata",
      "outputBuffer",
      "result",
    ]);
    const { id, metadata, config, result, ...fields } = redacted.input;
    return this.knex.transaction(async (trx) => {
      const parentId = fields.manualParentSessionId;
      // The session FOR UPDATE and the manual parent (KEY SHARE, what the foreign key takes
      // anyway) in id order, like every path that locks two session rows (docs/data-model.md,
      // "Locks"): an archive of a tree holding both would otherwise wait on us while we wait on it.
      const locks: Array<{ id: string; mode: "update" | "keyShare" }> = [{ id, mode: "update" }];
      if (parentId && parentId !== id) locks.push({ id: parentId, mode: "keyShare" });
      locks.sort((a, b) => compareUuids(a.id, b.id));
      const statuses = new Map<string, SessionStatus | null>();
      for (const lock of locks) statuses.set(lock.id, await this.lockRow(trx, lock.id, lock.mode));
      const status = statuses.get(id);
      if (!status) throw notFound("session", id);
      // A spinner on a session that has ended would say it still runs; a resume comes first.
      if (fields.isWorking === true && isTerminalStatus(status)) {
        throw new AppError(
          "INVALID_INPUT",
          `session ${id} has ended (${status}): it cannot be working until it is resumed (a SessionStart or UserPromptSubmit hook, or a session_resumed event)`,
          { details: { id, status } },
        );
      }
      if (parentId) {
        if (parentId === id) throw new AppError("INVALID_INPUT", "a session cannot be its own parent");
        if (!statuses.get(parentId)) throw notFound("parent session", parentId);
        if (await this.isAncestorOf(trx, id, parentId)) {
          throw new AppError(
            "INVALID_INPUT",
            `session ${parentId} is below this session in its tree: as its parent it would make a loop`,
            { details: { id, manualParentSessionId: parentId } },
          );
        }
      }
      const patch: Record<string, unknown> = { ...fields };
      if (redacted.count > 0) patch.redactions = trx.raw("redactions + ?", [redacted.count]);
      if (config !== undefined) patch.config = sanitizeJsonForPostgres(config);
      if (result !== undefined) patch.result = JSON.stringify(sanitizeJsonForPostgres(result));
      if (metadata !== undefined) {
        // Merge top-level keys; keys set to null are removed.
        patch.metadata = trx.raw("jsonb_strip_nulls(metadata || ?::jsonb)", [
          JSON.stringify(sanitizeJsonForPostgres(metadata)),
        ]);
      }
      const row = await SessionModel.query(trx)
        .patch(patch)
        .where("id", id)
        .returning(SESSION_COLUMNS as unknown as string[])
        .first();
      await notifySessions(trx, [id]);
      return toSessionDto(returnedRow(row, "UPDATE sessions"));
    });
  }

  /**
   * Whether `ancestor` is above `session` in the tree the pages draw (each session under its
   * manual parent, else its parent). Bounded: a loop stored before this check ends the walk.
   * The caller holds both rows locked, so a concurrent update cannot close a loop meanwhile.
   */
  private async isAncestorOf(trx: Knex.Transaction, ancestor: string, session: string): Promise<boolean> {
    const result = await trx.raw<{ rows: Array<{ found: boolean }> }>(
      `WITH RECURSIVE up(id, depth) AS (
         SELECT ?::uuid, 0
         UNION ALL
         SELECT coalesce(s.manual_parent_session_id, s.parent_session_id), up.depth + 1
         FROM sessions s JOIN up ON s.id = up.id
         WHERE up.depth < ? AND coalesce(s.manual_parent_session_id, s.parent_session_id) IS NOT NULL
       )
       SELECT EXISTS (SELECT 1 FROM up WHERE id = ?::uuid) AS found`,
      [session, MAX_TREE_DEPTH, ancestor],
    );
    return result.rows[0]?.found === true;
  }

  /**
   * Sessions waiting for the person (`waiting_input`: a permission prompt, an idle prompt, a
   * question), the one waiting longest first, with what each waits for. Archived ones never;
   * hidden ones only when asked.
   */
  async needsYou(input: NeedsYouInput): Promise<NeedsYouItem[]> {
    const now = this.now();
    const query = SessionModel.query(this.knex)
      .select(SESSION_COLUMNS)
      .where("status", "waiting_input")
      .whereNull("archived_at")
      .orderBy([
        { column: "status_changed_at", order: "asc" },
        { column: "id", order: "asc" },
      ])
      .limit(input.limit);
    if (!input.includeHidden) query.where("hidden", false);
    if (input.projectId) query.where("project_id", input.projectId);
    if (input.machineId) query.where("machine_id", input.machineId);
    if (input.agentType) query.where("agent_type", input.agentType);
    if (input.parentSessionId === null) query.whereNull("parent_session_id");
    else if (input.parentSessionId) query.where("parent_session_id", input.parentSessionId);
    if (input.from) query.where("last_activity_at", ">=", input.from);
    const rows = await query;
    return rows.map((row) => ({
      session: toSessionDto(row),
      reason: row.statusReason,
      waitingSince: row.statusChangedAt.toISOString(),
      waitingSeconds: Math.max(0, (now.getTime() - row.statusChangedAt.getTime()) / 1000),
    }));
  }

  /**
   * Hooks report work but not always its end (a killed terminal sends no SessionEnd), so
   * quiet sessions are settled by time: `active` with no event for `idleAfterMinutes`
   * becomes `idle`; any open session but a paused one, quiet for `endAfterHours`, is ended
   * (`terminated`, reason said). Their status time is their last event's, so the next event
   * (a new prompt reopens an ended session) moves them again as usual.
   */
  async sweepInactive(policy: InactivityPolicy): Promise<InactivitySweepResult> {
    const now = this.now();
    const idleBefore = new Date(now.getTime() - policy.idleAfterMinutes * 60_000);
    const endBefore = new Date(now.getTime() - policy.endAfterHours * 3_600_000);
    return this.knex.transaction(async (trx) => {
      const ended = await trx.raw<{ rows: Array<{ id: string }> }>(
        `UPDATE sessions SET status = 'terminated', is_working = false, status_changed_at = last_activity_at,
           ended_at = last_activity_at, status_reason = ?
         WHERE status IN ('pending', 'initializing', 'active', 'idle', 'waiting_input') AND last_activity_at < ?
         RETURNING id`,
        [inactivityEndReason(policy.endAfterHours), endBefore],
      );
      const idled = await trx.raw<{ rows: Array<{ id: string }> }>(
        `UPDATE sessions SET status = 'idle', is_working = false, status_changed_at = last_activity_at,
           status_reason = ?
         WHERE status = 'active' AND last_activity_at < ?
         RETURNING id`,
        [`no events for ${policy.idleAfterMinutes} min`, idleBefore],
      );
      const changed = [...ended.rows, ...idled.rows].map((r) => r.id);
      if (changed.length > 0) await notifySessions(trx, changed);
      return { idled: idled.rows.length, ended: ended.rows.length };
    });
  }

  /** Moves a session along the lifecycle; an invalid move is INVALID_TRANSITION naming both states. */
  async transition(given: TransitionSessionInput): Promise<Session> {
    const { input, count } = redactFields(this.redactor, given, ["errorMessage", "result"]);
    return this.knex.transaction(async (trx) => {
      const current = await this.requireRow(trx, input.id, "session", true);
      assertTransition(current.status as SessionStatus, input.to);
      const now = this.now();
      const row = await SessionModel.query(trx)
        .patch({
          status: input.to,
          statusChangedAt: now,
          statusReason: null,
          isWorking: input.to === "active",
          ...(current.startedAt === null && input.to !== "pending" && input.to !== "initializing"
            ? { startedAt: now }
            : {}),
          ...(isTerminalStatus(input.to) ? { endedAt: now } : {}),
          ...(input.errorMessage !== undefined ? { errorMessage: input.errorMessage } : {}),
          ...(input.result !== undefined ? { result: JSON.stringify(sanitizeJsonForPostgres(input.result)) } : {}),
          ...(count > 0 ? { redactions: trx.raw("redactions + ?", [count]) } : {}),
          lastActivityAt: now,
        })
        .where("id", input.id)
        .returning(SESSION_COLUMNS as unknown as string[])
        .first();
      await notifySessions(trx, [input.id]);
      return toSessionDto(returnedRow(row, "UPDATE sessions"));
    });
  }

  /** The session, its ancestors up to the root, its descendants, and tokens rolled up over the subtree. */
  async tree(input: { id: string; maxDepth: number }): Promise<SessionTree> {
    const session = await this.get({ id: input.id });
    const cols = qualified.join(", ");
    const ancestors = await this.knex.raw<{ rows: Array<Record<string, unknown>> }>(
      `WITH RECURSIVE up AS (
         SELECT parent_session_id AS id, 1 AS depth FROM sessions WHERE id = ?
         UNION ALL
         SELECT s.parent_session_id, up.depth + 1 FROM sessions s JOIN up ON s.id = up.id
         WHERE up.depth < 100
       )
       SELECT ${cols}, up.depth FROM up JOIN sessions s ON s.id = up.id ORDER BY up.depth DESC`,
      [input.id],
    );
    const descendants = await this.knex.raw<{ rows: Array<Record<string, unknown>> }>(
      `WITH RECURSIVE down AS (
         SELECT id, 1 AS depth, ARRAY[created_at::text || id::text] AS path FROM sessions WHERE parent_session_id = ?
         UNION ALL
         SELECT s.id, down.depth + 1, down.path || (s.created_at::text || s.id::text)
         FROM sessions s JOIN down ON s.parent_session_id = down.id
         WHERE down.depth < ?
       )
       SELECT ${cols}, down.depth FROM down JOIN sessions s ON s.id = down.id ORDER BY down.path`,
      [input.id, input.maxDepth],
    );
    const toDto = (raw: Record<string, unknown>) => toSessionDto(SessionModel.fromDatabaseJson(raw));
    const nodes = descendants.rows.map((raw) => ({ session: toDto(raw), depth: Number(raw.depth) }));
    const totalTokens: TokenUsage = { ...session.tokens };
    for (const node of nodes) {
      totalTokens.inputTokens += node.session.tokens.inputTokens;
      totalTokens.outputTokens += node.session.tokens.outputTokens;
      totalTokens.cacheReadTokens += node.session.tokens.cacheReadTokens;
      totalTokens.cacheCreationTokens += node.session.tokens.cacheCreationTokens;
      totalTokens.costUsd += node.session.tokens.costUsd;
      totalTokens.unpricedMessages += node.session.tokens.unpricedMessages;
    }
    // Costs are stored to 1e-10 USD; float sums of them are rounded back to that.
    totalTokens.costUsd = Math.round(totalTokens.costUsd * 1e10) / 1e10;
    return { ancestors: ancestors.rows.map(toDto), session, descendants: nodes, totalTokens };
  }

  /** Archives (or restores) a session together with every session below it. */
  async setArchived(input: { id: string; archived: boolean }): Promise<Session> {
    return this.knex.transaction(async (trx) => {
      const ids = await this.lockSubtree(trx, input.id);
      await trx("sessions")
        .whereIn("id", ids)
        .update({ archived_at: input.archived ? this.now() : null });
      await notifySessions(trx, ids);
      const row = await SessionModel.query(trx).select(SESSION_COLUMNS).findById(input.id);
      return toSessionDto(returnedRow(row, "UPDATE sessions"));
    });
  }

  /** Deletes a session and everything under it (child sessions, events, records). */
  async delete(input: { id: string }): Promise<{ deleted: number }> {
    return this.knex.transaction(async (trx) => {
      const ids = await this.lockSubtree(trx, input.id, { withReferrers: true });
      await trx("sessions").where("id", input.id).delete();
      await notifySessions(trx, ids);
      return { deleted: ids.length };
    });
  }

  /**
   * Locks a session and every session below it, in id order, and returns their ids (the
   * session's first). Id order is the one ingest (both paths) and retention lock sessions in:
   * locking the root first and the rest as the UPDATE or the cascade reached them deadlocked
   * with an ingest into a child of lower id and the root (docs/data-model.md, "Locks").
   * FOR UPDATE, so no child can be attached below a locked session (its insert needs a KEY
   * SHARE lock on the parent) until this transaction ends. The tree is read before it is
   * locked, so it is read again under the locks: a child attached in between is not locked
   * yet, and the locks are then given back (a savepoint) and taken again for the grown tree.
   * With `withReferrers`, also the sessions outside the tree whose manual parent is in it
   * (a delete sets that to NULL, which locks them), in the same statement and order.
   */
  private async lockSubtree(trx: Knex.Transaction, id: string, options: { withReferrers?: boolean } = {}) {
    for (let attempt = 1; ; attempt++) {
      const ids = await this.subtreeIds(trx, id);
      if (ids.length === 0) throw notFound("session", id);
      await trx.raw("SAVEPOINT lock_subtree");
      await trx.raw(
        `SELECT id FROM sessions WHERE id = ANY(?::uuid[]) ${options.withReferrers ? "OR manual_parent_session_id = ANY(?::uuid[])" : ""}
          ORDER BY id FOR UPDATE`,
        options.withReferrers ? [ids, ids] : [ids],
      );
      const locked = new Set(ids);
      const now = await this.subtreeIds(trx, id);
      if (now.length === ids.length && now.every((x) => locked.has(x))) {
        await trx.raw("RELEASE SAVEPOINT lock_subtree");
        return ids;
      }
      await trx.raw("ROLLBACK TO SAVEPOINT lock_subtree");
      if (attempt >= SUBTREE_LOCK_ATTEMPTS) {
        throw new AppError("CONFLICT", `the sessions below ${id} kept changing while they were locked, try again`, {
          details: { id },
        });
      }
    }
  }

  private async subtreeIds(db: Db, id: string): Promise<string[]> {
    const result = await db.raw<{ rows: Array<{ id: string }> }>(
      `WITH RECURSIVE tree AS (
         SELECT id, 0 AS depth FROM sessions WHERE id = ?
         UNION ALL
         SELECT s.id, tree.depth + 1 FROM sessions s JOIN tree ON s.parent_session_id = tree.id WHERE tree.depth < 1000
       ) SELECT id FROM tree`,
      [id],
    );
    return result.rows.map((r) => r.id);
  }

  /** Locks one session row; false when there is none. */
  /** Locks the session's row; its status, or null when there is no such session. */
  private async lockRow(db: Db, id: string, mode: "update" | "keyShare"): Promise<SessionStatus | null> {
    const sql = `SELECT status FROM sessions WHERE id = ? ${mode === "update" ? "FOR UPDATE" : "FOR KEY SHARE"}`;
    const result = await db.raw<{ rows: Array<{ status: SessionStatus }> }>(sql, [id]);
    return result.rows[0]?.status ?? null;
  }

  private async requireRow(db: Db, id: string, what: string, forUpdate = false): Promise<SessionModel> {
    const query = SessionModel.query(db).select("id", "status", "started_at").findById(id);
    if (forUpdate) query.forUpdate();
    const row = await query;
    if (!row) throw notFound(what, id);
    return row;
  }
}

/** PostgreSQL's order of uuids (bytewise): the order of their lower-case text. */
function compareUuids(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** CONFLICT for an external id another session has (`holder`: its id, when known). */
function externalIdTaken(externalId: string, holder: string | null, cause?: unknown): AppError {
  return new AppError(
    "CONFLICT",
    `a session with external id ${externalId} already exists${holder ? ` (${holder})` : ""}`,
    { details: { externalId, ...(holder ? { id: holder } : {}) }, ...(cause ? { cause } : {}) },
  );
}
