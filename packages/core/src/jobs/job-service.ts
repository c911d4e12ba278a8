import {
  type ClaimJobsInput,
  type CompleteJobInput,
  type EnqueueJobInput,
  type ExtendJobLeaseInput,
  type FailJobInput,
  type IdInput,
  type Job,
  type ListJobsInput,
} from "@logbook/contracts";
import { JobModel, type Knex } from "@logbook/db";
import { v7 as uuidv7 } from "uuid";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { sanitizeJsonForPostgres } from "../json.js";
import { decodeCursor, toPage } from "../pagination.js";
import { assertCursorValues, timestampKey } from "../pagination.js";
import { jsonb, rowsOf, violated } from "../sql.js";
import { JOB_COLUMNS, toJobDto } from "./job-dto.js";
import { returnedRow } from "../invariants.js";
import { redactFields, redactorOf, writeRedacted } from "../redaction/redact-record.js";

const RETURNING = JOB_COLUMNS.map((c) => `jobs.${c}`).join(", ");
const SELECT = JOB_COLUMNS.map((c) => `jobs.${c}`);

export interface JobServiceOptions {
  /** Delay before the retry that follows the first failed attempt. @default 1000 */
  backoffBaseMs?: number;
  /** Longest delay between two attempts. @default 3_600_000 (one hour) */
  backoffMaxMs?: number;
  /** Expired leases handled per statement by `recoverExpiredLeases` (short locks). @default 500 */
  recoverBatchSize?: number;
}

/**
 * The delay before the next attempt after attempt number `attempt` (1-based) failed:
 * `base * 2^(attempt-1)`, capped at `max` (1 s, 2 s, 4 s, 8 s, … 1 h by default). No
 * jitter: SKIP LOCKED claiming already spreads retries over the workers.
 */
export function jobBackoffMs(attempt: number, baseMs = 1000, maxMs = 3_600_000): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
}

function toDto(row: Record<string, unknown>): Job {
  return toJobDto(JobModel.fromDatabaseJson(row));
}

/**
 * The background job queue (seed 003), on PostgreSQL alone.
 *
 * - `claim` takes due pending jobs with `FOR UPDATE SKIP LOCKED` (highest priority, then
 *   earliest due) and leases them to one worker for `leaseMs`; concurrent workers never
 *   get the same job.
 * - Only the lease owner may `complete`, `fail` or `extendLease` a running job: anyone
 *   else (a worker whose lease expired and was recovered, or whose job was cancelled)
 *   gets CONFLICT saying who holds it now or what state it is in. A lease that has
 *   expired but not yet been recovered still belongs to its worker.
 * - `fail` retries with exponential backoff (`jobBackoffMs`) until `maxAttempts`
 *   attempts have run, then the job is `failed`; `permanent` fails it at once.
 * - `recoverExpiredLeases` (run it periodically, e.g. from the scheduler) puts running
 *   jobs whose lease expired back to pending, or to failed when their attempts are used
 *   up. Their place in the queue is kept (`scheduledAt` unchanged).
 * Every time is the database's `now()`, so workers with skewed clocks agree.
 */
export class JobService {
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly recoverBatchSize: number;

  constructor(
    private readonly deps: CoreDeps,
    options: JobServiceOptions = {},
  ) {
    this.backoffBaseMs = options.backoffBaseMs ?? 1000;
    this.backoffMaxMs = options.backoffMaxMs ?? 3_600_000;
    this.recoverBatchSize = options.recoverBatchSize ?? 500;
  }

  async enqueue(given: EnqueueJobInput): Promise<Job> {
    const { input, count } = redactFields(redactorOf(this.deps), given, ["data"]);
    try {
      return await writeRedacted(
        this.deps.knex,
        count,
        (db) => this.insert(db, input),
        (job) => job.sessionId,
      );
    } catch (error) {
      if (violated(error, "23503")?.includes("session")) throw notFound("session", input.sessionId ?? "");
      throw error;
    }
  }

  private async insert(db: Knex, input: EnqueueJobInput): Promise<Job> {
    const rows = rowsOf(
      await db.raw(
        `INSERT INTO jobs (id, type, data, priority, max_attempts, session_id, scheduled_at)
         VALUES (?, ?, ?::jsonb, ?, ?, ?, COALESCE(?::timestamptz, now()))
         RETURNING ${RETURNING}`,
        [
          uuidv7(),
          input.type,
          jsonb(sanitizeJsonForPostgres(input.data)),
          input.priority,
          input.maxAttempts,
          input.sessionId ?? null,
          input.runAt ?? null,
        ],
      ),
    );
    return toDto(returnedRow(rows[0], "INSERT INTO jobs"));
  }

  /**
   * Leases up to `limit` due jobs to `workerId`: status running, attempts + 1, lease
   * until `now() + leaseMs`. Returns them in claim order; an empty list when none is due.
   */
  async claim(input: ClaimJobsInput): Promise<Job[]> {
    const knex = this.deps.knex;
    const next = knex("jobs")
      .select("id")
      .where("status", "pending")
      .where("scheduled_at", "<=", knex.fn.now())
      .orderBy([
        { column: "priority", order: "desc" },
        { column: "scheduled_at", order: "asc" },
        { column: "id", order: "asc" },
      ])
      .limit(input.limit)
      .forUpdate()
      .skipLocked();
    if (input.types) next.whereIn("type", input.types);
    const rows = rowsOf(
      await knex.raw(
        `WITH next AS (?)
         UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, lease_owner = ?,
           lease_expires_at = now() + ?::int * interval '1 millisecond', started_at = now()
         FROM next WHERE jobs.id = next.id
         RETURNING ${RETURNING}`,
        [next, input.workerId, input.leaseMs],
      ),
    );
    return rows
      .map(toDto)
      .sort(
        (a, b) => b.priority - a.priority || a.scheduledAt.localeCompare(b.scheduledAt) || a.id.localeCompare(b.id),
      );
  }

  /** Marks the caller's running job completed, with its result. */
  async complete(given: CompleteJobInput): Promise<Job> {
    const { input, count } = redactFields(redactorOf(this.deps), given, ["result"]);
    const done = await writeRedacted(
      this.deps.knex,
      count,
      async (db) => this.completeIn(db, input),
      (job) => job?.sessionId,
    );
    return done ?? this.refuse(input.id, input.workerId, "completion");
  }

  private async completeIn(db: Knex, input: CompleteJobInput): Promise<Job | undefined> {
    const rows = rowsOf(
      await db.raw(
        `UPDATE jobs SET status = 'completed', result = ?::jsonb, error = NULL, completed_at = now(), lease_expires_at = NULL
         WHERE id = ? AND status = 'running' AND lease_owner = ?
         RETURNING ${RETURNING}`,
        [jsonb(sanitizeJsonForPostgres(input.result)), input.id, input.workerId],
      ),
    );
    return rows[0] ? toDto(rows[0]) : undefined;
  }

  /**
   * Records a failed attempt of the caller's running job: back to pending after the
   * backoff delay, or failed when it was the last attempt or `permanent` is set. A worker
   * inside the server that keeps its own retry schedule (webhooks, with jitter) passes the
   * delay as `retryInMs`; API callers get the queue's backoff.
   */
  async fail(given: FailJobInput, options: { retryInMs?: number } = {}): Promise<Job> {
    const { input, count } = redactFields(redactorOf(this.deps), given, ["error"]);
    const failed = await writeRedacted(
      this.deps.knex,
      count,
      (db) => this.failIn(db, input, options),
      (job) => job?.sessionId,
    );
    return failed ?? this.refuse(input.id, input.workerId, "failure report");
  }

  private async failIn(db: Knex, input: FailJobInput, options: { retryInMs?: number }): Promise<Job | undefined> {
    const final = "(?::boolean OR jobs.attempts >= jobs.max_attempts)";
    const rows = rowsOf(
      await db.raw(
        `UPDATE jobs SET
           status = CASE WHEN ${final} THEN 'failed' ELSE 'pending' END,
           error = ?,
           completed_at = CASE WHEN ${final} THEN now() ELSE NULL END,
           scheduled_at = CASE WHEN ${final} THEN jobs.scheduled_at
             ELSE now() + COALESCE(?::bigint, LEAST(?::bigint * power(2, jobs.attempts - 1), ?::bigint))
               * interval '1 millisecond' END,
           lease_owner = CASE WHEN ${final} THEN jobs.lease_owner ELSE NULL END,
           lease_expires_at = NULL
         WHERE id = ? AND status = 'running' AND lease_owner = ?
         RETURNING ${RETURNING}`,
        [
          input.permanent,
          input.error,
          input.permanent,
          input.permanent,
          options.retryInMs ?? null,
          this.backoffBaseMs,
          this.backoffMaxMs,
          input.permanent,
          input.id,
          input.workerId,
        ],
      ),
    );
    return rows[0] ? toDto(rows[0]) : undefined;
  }

  /** Pushes the caller's lease to `now() + leaseMs` (long jobs call it as a heartbeat). */
  async extendLease(input: ExtendJobLeaseInput): Promise<Job> {
    const rows = rowsOf(
      await this.deps.knex.raw(
        `UPDATE jobs SET lease_expires_at = now() + ?::int * interval '1 millisecond'
         WHERE id = ? AND status = 'running' AND lease_owner = ?
         RETURNING ${RETURNING}`,
        [input.leaseMs, input.id, input.workerId],
      ),
    );
    if (rows[0]) return toDto(rows[0]);
    return this.refuse(input.id, input.workerId, "lease extension");
  }

  /**
   * Cancels a pending or running job (a running job's worker is refused when it reports
   * back). Cancelling a cancelled job returns it unchanged; a completed or failed job is
   * INVALID_TRANSITION.
   */
  async cancel(input: IdInput): Promise<Job> {
    const rows = rowsOf(
      await this.deps.knex.raw(
        `UPDATE jobs SET status = 'cancelled', completed_at = now(), lease_expires_at = NULL
         WHERE id = ? AND status IN ('pending', 'running')
         RETURNING ${RETURNING}`,
        [input.id],
      ),
    );
    if (rows[0]) return toDto(rows[0]);
    const job = await this.get(input);
    if (job.status === "cancelled") return job;
    throw new AppError(
      "INVALID_TRANSITION",
      `job ${job.id} cannot go from ${job.status} to cancelled: only a pending or running job can be cancelled`,
      { details: { id: job.id, from: job.status, to: "cancelled" } },
    );
  }

  /**
   * Running jobs whose lease has expired go back to pending (their worker is presumed
   * dead), or to failed when that was their last attempt. Works in batches with SKIP
   * LOCKED, so it never waits on a worker that is reporting back at the same moment.
   */
  async recoverExpiredLeases(): Promise<{ recovered: number; failed: number }> {
    let recovered = 0;
    let failed = 0;
    for (;;) {
      const rows = rowsOf(
        await this.deps.knex.raw(
          `WITH expired AS (
             SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at <= now()
             ORDER BY lease_expires_at LIMIT ? FOR UPDATE SKIP LOCKED)
           UPDATE jobs SET
             status = CASE WHEN jobs.attempts >= jobs.max_attempts THEN 'failed' ELSE 'pending' END,
             error = 'the lease of worker "' || coalesce(jobs.lease_owner, 'unknown') || '" expired at '
               || to_char(jobs.lease_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
               || ' before attempt ' || jobs.attempts || ' finished',
             completed_at = CASE WHEN jobs.attempts >= jobs.max_attempts THEN now() ELSE NULL END,
             lease_owner = CASE WHEN jobs.attempts >= jobs.max_attempts THEN jobs.lease_owner ELSE NULL END,
             lease_expires_at = NULL
           FROM expired WHERE jobs.id = expired.id
           RETURNING jobs.status`,
          [this.recoverBatchSize],
        ),
      );
      for (const row of rows) {
        if (row.status === "failed") failed += 1;
        else recovered += 1;
      }
      if (rows.length < this.recoverBatchSize) return { recovered, failed };
    }
  }

  async get(input: IdInput): Promise<Job> {
    const row = await this.deps
      .knex("jobs")
      .select(SELECT)
      .where("id", input.id)
      .first<Record<string, unknown> | undefined>();
    if (!row) throw notFound("job", input.id);
    return toDto(row);
  }

  /** Newest first (created_at desc, id desc), filtered by status, type and session. */
  async list(input: ListJobsInput): Promise<{ items: Job[]; nextCursor: string | null }> {
    const knex = this.deps.knex;
    const query = knex("jobs")
      .select([...SELECT, knex.raw(`${timestampKey("jobs.created_at")} AS cursor_key`)])
      .orderBy([
        { column: "jobs.created_at", order: "desc" },
        { column: "jobs.id", order: "desc" },
      ])
      .limit(input.limit + 1);
    if (input.status) query.whereIn("status", input.status);
    if (input.type) query.where("type", input.type);
    if (input.sessionId) query.where("session_id", input.sessionId);
    if (input.cursor !== undefined) {
      const values = decodeCursor(input.cursor, ["string", "string"]);
      assertCursorValues(values, ["timestamp", "uuid"]);
      query.whereRaw("(jobs.created_at, jobs.id) < (?::timestamptz, ?::uuid)", values);
    }
    const rows = (await query) as Array<Record<string, unknown>>;
    return toPage(
      rows,
      input.limit,
      ({ cursor_key: _key, ...row }) => toDto(row),
      (row) => [String(row.cursor_key), String(row.id)],
    );
  }

  /** Explains why the lease owner's report was not applied: the job is gone, not running, or leased to another. */
  private async refuse(id: string, workerId: string, what: string): Promise<never> {
    const job = await this.get({ id });
    if (job.status !== "running") {
      throw new AppError(
        "CONFLICT",
        `job ${id} is ${job.status}, not running: the ${what} from worker "${workerId}" is refused`,
        { details: { id, status: job.status, leaseOwner: job.leaseOwner } },
      );
    }
    throw new AppError(
      "CONFLICT",
      `job ${id} is leased to worker "${job.leaseOwner}", not "${workerId}" (an expired lease is recovered and the job ` +
        `given to another worker): the ${what} is refused`,
      { details: { id, status: job.status, leaseOwner: job.leaseOwner } },
    );
  }
}
