import { type Artifact, type CreateArtifactInput, type ListArtifactsInput } from "@logbook/contracts";
import { ArtifactModel } from "@logbook/db";
import { v7 as uuidv7 } from "uuid";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { sanitizeJsonForPostgres } from "../json.js";
import { listSessionRecords } from "./session-records.js";
import { jsonb, rowsOf, violated } from "../sql.js";
import { ARTIFACT_COLUMNS, toArtifactDto } from "./record-dto.js";
import { returnedRow } from "../invariants.js";
import { countRedactions, redactFields, redactorOf } from "../redaction/redact-record.js";

/**
 * What a session's work produced (seed 004: test files, reports, diffs, backups), stored
 * by reference (`contentPath`), optionally tied to the step that made it.
 */
export class ArtifactService {
  constructor(private readonly deps: CoreDeps) {}

  /** A step, when given, must exist and belong to the same session (else NOT_FOUND / INVALID_INPUT). */
  async create(given: CreateArtifactInput): Promise<Artifact> {
    const { input, count } = redactFields(redactorOf(this.deps), given, ["name", "contentPath", "metadata"]);
    try {
      return await this.deps.knex.transaction(async (trx) => {
        if (input.stepId !== undefined) {
          // KEY SHARE: the step cannot be deleted (or moved) before the artifact that names it commits.
          const step = await trx("steps")
            .where({ id: input.stepId })
            .forKeyShare()
            .first<{ session_id: string } | undefined>("session_id");
          if (!step) throw notFound("step", input.stepId);
          if (step.session_id !== input.sessionId) {
            throw new AppError(
              "INVALID_INPUT",
              `step ${input.stepId} belongs to session ${step.session_id}, not to session ${input.sessionId}`,
              { details: { stepId: input.stepId, stepSessionId: step.session_id, sessionId: input.sessionId } },
            );
          }
        }
        const rows = rowsOf(
          await trx.raw(
            `INSERT INTO artifacts (id, session_id, step_id, artifact_type, name, content_path, size_bytes, metadata)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?::jsonb)
             RETURNING ${ARTIFACT_COLUMNS.join(", ")}`,
            [
              uuidv7(),
              input.sessionId,
              input.stepId ?? null,
              input.artifactType,
              input.name,
              input.contentPath,
              input.sizeBytes ?? null,
              jsonb(sanitizeJsonForPostgres(input.metadata ?? {})),
            ],
          ),
        );
        await countRedactions(trx, input.sessionId, count);
        return toArtifactDto(ArtifactModel.fromDatabaseJson(returnedRow(rows[0], "INSERT INTO artifacts")));
      });
    } catch (error) {
      if (violated(error, "23503")?.includes("session")) throw notFound("session", input.sessionId);
      if (violated(error, "23503")?.includes("step")) throw notFound("step", input.stepId ?? "");
      throw error;
    }
  }

  /** Oldest first (created_at, id), optionally of one `artifactType`. */
  async list(input: ListArtifactsInput): Promise<{ items: Artifact[]; nextCursor: string | null }> {
    const { artifactType } = input;
    return listSessionRecords(this.deps.knex, {
      table: "artifacts",
      columns: ARTIFACT_COLUMNS,
      sessionId: input.sessionId,
      limit: input.limit,
      cursor: input.cursor,
      ...(artifactType ? { filter: (query) => void query.where("artifact_type", artifactType) } : {}),
      toItem: (row) => toArtifactDto(ArtifactModel.fromDatabaseJson(row)),
    });
  }
}
