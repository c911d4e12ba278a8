import {
  type AcquireLockInput,
  type InspectLockInput,
  type ProjectLock,
  type ReleaseLockInput,
  type RenewLockInput,
} from "@logbook/contracts";
import { ProjectLockModel, type Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { rowsOf, violated } from "../sql.js";
import { PROJECT_LOCK_COLUMNS, toProjectLockDto } from "./project-dto.js";

const RETURNING = PROJECT_LOCK_COLUMNS.map((c) => `project_locks.${c}`).join(", ");

/** The lock as it stands, with liveness judged by the database clock. */
interface LockState {
  projectExists: boolean;
  lock: ProjectLock | null;
  live: boolean;
}

function lockHeld(lock: ProjectLock, message: string): AppError {
  return new AppError("LOCK_HELD", message, {
    details: { projectId: lock.projectId, owner: lock.owner, sessionId: lock.sessionId, expiresAt: lock.expiresAt },
  });
}

const holderText = (lock: ProjectLock): string =>
  `"${lock.owner}"${lock.sessionId ? ` (session ${lock.sessionId})` : ""} until ${lock.expiresAt}`;

/**
 * Project locks (seed 004): at most one holder per project, with an expiry.
 *
 * Atomicity comes from the database, not from this process: `project_locks.project_id`
 * is unique, and acquiring is one `INSERT … ON CONFLICT (project_id) DO UPDATE … WHERE`
 * statement that takes the row over only when the current lock has expired (or is the
 * caller's own, which renews it). Expiry is always judged by PostgreSQL's `now()`, so
 * replicas with skewed clocks agree.
 *
 * Error policy:
 * - unknown project → NOT_FOUND; unknown session → NOT_FOUND.
 * - acquire/renew/release while someone else holds an unexpired lock → LOCK_HELD, with
 *   the holder's owner, session and expiry in the message and in `details`. Releasing
 *   someone else's lock is LOCK_HELD too (not FORBIDDEN): it is the same fact, "held by
 *   another", and the caller gets the same details to act on.
 * - renew when the caller holds nothing (no lock, or its lock expired) → NOT_FOUND: there
 *   is no lock to renew; acquire again.
 */
export class LockService {
  constructor(private readonly deps: CoreDeps) {}

  /**
   * Takes the lock for `ttlMs`. The same owner acquiring again renews it (keeps
   * `acquiredAt`, sets `renewedAt`); an expired lock of anyone is taken over.
   */
  async acquire(input: AcquireLockInput): Promise<ProjectLock> {
    const ownRenewal = "project_locks.owner = EXCLUDED.owner AND project_locks.expires_at > now()";
    // A lock that is taken over or released and re-taken between our statement and the
    // explanation below is retried; each round is one atomic statement.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      let rows: Array<Record<string, unknown>>;
      try {
        rows = rowsOf(
          await this.deps.knex.raw(
            `INSERT INTO project_locks (project_id, owner, session_id, acquired_at, expires_at)
             SELECT p.id, ?, ?, now(), now() + ?::int * interval '1 millisecond' FROM projects p WHERE p.id = ?
             ON CONFLICT (project_id) DO UPDATE SET
               id = CASE WHEN ${ownRenewal} THEN project_locks.id ELSE gen_random_uuid() END,
               owner = EXCLUDED.owner,
               session_id = CASE WHEN ${ownRenewal}
                 THEN COALESCE(EXCLUDED.session_id, project_locks.session_id) ELSE EXCLUDED.session_id END,
               acquired_at = CASE WHEN ${ownRenewal} THEN project_locks.acquired_at ELSE now() END,
               renewed_at = CASE WHEN ${ownRenewal} THEN now() ELSE NULL END,
               expires_at = EXCLUDED.expires_at
             WHERE project_locks.expires_at <= now() OR project_locks.owner = EXCLUDED.owner
             RETURNING ${RETURNING}`,
            [input.owner, input.sessionId ?? null, input.ttlMs, input.projectId],
          ),
        );
      } catch (error) {
        if (violated(error, "23503")?.includes("session")) throw notFound("session", input.sessionId ?? "");
        throw error;
      }
      const row = rows[0];
      if (row) return toProjectLockDto(ProjectLockModel.fromDatabaseJson(row));

      await this.refuseUnlessFree(input.projectId, input.owner);
    }
    throw new AppError("CONFLICT", `the lock on project ${input.projectId} kept changing hands, try again`);
  }

  /** Extends the caller's unexpired lock to `now() + ttlMs`. */
  async renew(input: RenewLockInput): Promise<ProjectLock> {
    const rows = rowsOf(
      await this.deps.knex.raw(
        `UPDATE project_locks SET renewed_at = now(), expires_at = now() + ?::int * interval '1 millisecond'
         WHERE project_id = ? AND owner = ? AND expires_at > now()
         RETURNING ${RETURNING}`,
        [input.ttlMs, input.projectId, input.owner],
      ),
    );
    const row = rows[0];
    if (row) return toProjectLockDto(ProjectLockModel.fromDatabaseJson(row));

    const state = await this.refuseUnlessFree(input.projectId, input.owner, "renew");
    const lapsed = state.lock?.owner === input.owner ? ` (it expired at ${state.lock.expiresAt})` : "";
    throw new AppError(
      "NOT_FOUND",
      `"${input.owner}" holds no lock on project ${input.projectId}${lapsed}: acquire it again`,
      { details: { projectId: input.projectId, owner: input.owner } },
    );
  }

  /**
   * Gives the caller's lock up. `released` is true when the caller's lock was in force
   * and is now gone; false when there was nothing to release (no lock, or the caller's
   * had already expired: its row is removed all the same). Someone else's unexpired
   * lock is never touched: LOCK_HELD.
   */
  async release(input: ReleaseLockInput): Promise<{ released: boolean }> {
    const rows = rowsOf(
      await this.deps.knex.raw(
        `DELETE FROM project_locks WHERE project_id = ? AND owner = ? RETURNING (expires_at > now()) AS live`,
        [input.projectId, input.owner],
      ),
    );
    const row = rows[0];
    if (row) return { released: row.live === true };

    await this.refuseUnlessFree(input.projectId, input.owner, "release");
    return { released: false };
  }

  /** The lock in force, or null when there is none (an expired lock is none). */
  async inspect(input: InspectLockInput): Promise<ProjectLock | null> {
    const state = await this.state(input.projectId);
    if (!state.projectExists) throw notFound("project", input.projectId);
    return state.live ? state.lock : null;
  }

  /**
   * After a write that matched no row, why: NOT_FOUND without the project, LOCK_HELD while
   * someone else's lock is in force (`doing` names what only the holder may do). Otherwise
   * the lock's state, for the caller to explain.
   */
  private async refuseUnlessFree(projectId: string, owner: string, doing?: "renew" | "release"): Promise<LockState> {
    const state = await this.state(projectId);
    if (!state.projectExists) throw notFound("project", projectId);
    if (state.lock && state.live && state.lock.owner !== owner) {
      const onlyHolder = doing ? `, not by "${owner}": only the holder can ${doing} it` : "";
      throw lockHeld(state.lock, `project ${projectId} is locked by ${holderText(state.lock)}${onlyHolder}`);
    }
    return state;
  }

  private async state(projectId: string, knex: Knex = this.deps.knex): Promise<LockState> {
    const rows = rowsOf(
      await knex.raw(
        `SELECT p.id AS project_id, ${PROJECT_LOCK_COLUMNS.filter((c) => c !== "project_id")
          .map((c) => `l.${c}`)
          .join(", ")},
                (l.expires_at > now()) AS live
         FROM projects p LEFT JOIN project_locks l ON l.project_id = p.id
         WHERE p.id = ?`,
        [projectId],
      ),
    );
    const row = rows[0];
    if (!row) return { projectExists: false, lock: null, live: false };
    if (row.id === null) return { projectExists: true, lock: null, live: false };
    const { live, ...lock } = row;
    return {
      projectExists: true,
      lock: toProjectLockDto(ProjectLockModel.fromDatabaseJson(lock)),
      live: live === true,
    };
  }
}
