import {
  type CompleteStepInput,
  type CreateStepInput,
  type FailStepInput,
  type IdInput,
  type ListStepsInput,
  type Step,
  type StepStatus,
} from "@logbook/contracts";
import { StepModel } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { sanitizeJsonForPostgres } from "../json.js";
import { assertSessionExists } from "./session-records.js";
import { jsonb, rowsOf, violated } from "../sql.js";
import { STEP_COLUMNS, toStepDto } from "./record-dto.js";
import { returnedRow } from "../invariants.js";
import { countRedactions, redactFields, redactorOf, writeRedacted } from "../redaction/redact-record.js";

const RETURNING = STEP_COLUMNS.join(", ");

/**
 * Classid of the transaction-scoped advisory lock that serialises step numbering within
 * one session (the two-int form, so it never collides with single-bigint advisory locks
 * such as retention's). Numbering does not lock the session row, so ingest is not held up.
 */
const STEP_SEQUENCE_LOCK_CLASS = 0x5354; // "ST"

/** Which states each move may start from. */
export const STEP_MOVES = {
  running: ["pending"],
  completed: ["running"],
  failed: ["pending", "running"],
  skipped: ["pending"],
  cancelled: ["pending", "running"],
} as const satisfies Partial<Record<StepStatus, readonly StepStatus[]>>;

type Move = keyof typeof STEP_MOVES;

/**
 * Workflow steps of a session (seed 004), in sequence order, with an enforced lifecycle:
 * pending → running → completed; pending|running → failed or cancelled; pending →
 * skipped. Any other move is INVALID_TRANSITION naming the from and to states. Each
 * move is one conditional UPDATE, so two concurrent moves cannot both succeed.
 */
export class StepService {
  constructor(private readonly deps: CoreDeps) {}

  /**
   * A pending step. `sequence` defaults to one after the session's highest (1 for the
   * first step); an explicit sequence that is taken is CONFLICT.
   */
  async create(given: CreateStepInput): Promise<Step> {
    const { input, count } = redactFields(redactorOf(this.deps), given, ["name", "input"]);
    const stepInput = jsonb(sanitizeJsonForPostgres(input.input));
    try {
      return await this.deps.knex.transaction(async (trx) => {
        await trx.raw("SELECT pg_advisory_xact_lock(?, hashtext(?))", [STEP_SEQUENCE_LOCK_CLASS, input.sessionId]);
        const rows = rowsOf(
          await trx.raw(
            `INSERT INTO steps (session_id, name, sequence, input)
             VALUES (?, ?, coalesce(?::int, (SELECT coalesce(max(sequence), 0) + 1 FROM steps WHERE session_id = ?)), ?::jsonb)
             RETURNING ${RETURNING}`,
            [input.sessionId, input.name, input.sequence ?? null, input.sessionId, stepInput],
          ),
        );
        await countRedactions(trx, input.sessionId, count);
        return toStepDto(StepModel.fromDatabaseJson(returnedRow(rows[0], "INSERT INTO steps")));
      });
    } catch (error) {
      if (violated(error, "23503") !== null) throw notFound("session", input.sessionId);
      if (violated(error, "23505") !== null) {
        throw new AppError(
          "CONFLICT",
          `session ${input.sessionId} already has a step with sequence ${input.sequence}`,
          {
            details: { sessionId: input.sessionId, sequence: input.sequence },
          },
        );
      }
      if (violated(error, "23514") !== null || violated(error, "22003") !== null) {
        throw new AppError("INVALID_INPUT", `session ${input.sessionId} has no step sequence left after its last`, {
          details: { sessionId: input.sessionId },
        });
      }
      throw error;
    }
  }

  /** pending → running (sets `startedAt`). */
  async start(input: IdInput): Promise<Step> {
    const { id } = input;
    return this.move(id, "running", "started_at = now()", []);
  }

  /** running → completed (sets `completedAt`, and `output` when given). */
  async complete(given: CompleteStepInput): Promise<Step> {
    const { input, count } = redactFields(redactorOf(this.deps), given, ["output"]);
    const output = input.output === undefined ? undefined : jsonb(sanitizeJsonForPostgres(input.output));
    return output === undefined
      ? this.move(input.id, "completed", "completed_at = now()", [])
      : this.move(input.id, "completed", "completed_at = now(), output = ?::jsonb", [output], count);
  }

  /** pending|running → failed, with the error (and `output` when given). */
  async fail(given: FailStepInput): Promise<Step> {
    const { input, count } = redactFields(redactorOf(this.deps), given, ["errorMessage", "output"]);
    const output = input.output === undefined ? undefined : jsonb(sanitizeJsonForPostgres(input.output));
    return output === undefined
      ? this.move(input.id, "failed", "completed_at = now(), error_message = ?", [input.errorMessage], count)
      : this.move(
          input.id,
          "failed",
          "completed_at = now(), error_message = ?, output = ?::jsonb",
          [input.errorMessage, output],
          count,
        );
  }

  /** pending → skipped. */
  async skip(input: IdInput): Promise<Step> {
    const { id } = input;
    return this.move(id, "skipped", "completed_at = now()", []);
  }

  /** pending|running → cancelled. */
  async cancel(input: IdInput): Promise<Step> {
    const { id } = input;
    return this.move(id, "cancelled", "completed_at = now()", []);
  }

  /** A session's steps in sequence order. */
  async list(input: ListStepsInput): Promise<Step[]> {
    const rows = await StepModel.query(this.deps.knex)
      .select(STEP_COLUMNS)
      .where("session_id", input.sessionId)
      .orderBy("sequence", "asc");
    if (rows.length === 0) await assertSessionExists(this.deps.knex, input.sessionId);
    return rows.map(toStepDto);
  }

  /** `redactions`: secrets replaced in the new values, counted on the step's session when it moves. */
  private async move(id: string, to: Move, sets: string, bindings: unknown[], redactions = 0): Promise<Step> {
    const from: readonly StepStatus[] = STEP_MOVES[to];
    const moved = await writeRedacted(
      this.deps.knex,
      redactions,
      async (db) => {
        const rows = rowsOf(
          await db.raw(
            `UPDATE steps SET status = ?, ${sets}
             WHERE id = ? AND status IN (${from.map(() => "?").join(", ")})
             RETURNING ${RETURNING}`,
            [to, ...(bindings as string[]), id, ...from],
          ),
        );
        return rows[0] ? toStepDto(StepModel.fromDatabaseJson(rows[0])) : undefined;
      },
      (step) => step?.sessionId,
    );
    if (moved) return moved;
    const current = await this.deps.knex("steps").where({ id }).first<{ status: StepStatus } | undefined>("status");
    if (!current) throw notFound("step", id);
    throw new AppError(
      "INVALID_TRANSITION",
      `step ${id} cannot go from ${current.status} to ${to} (only from ${from.join(" or ")})`,
      { details: { id, from: current.status, to, allowedFrom: from } },
    );
  }
}
