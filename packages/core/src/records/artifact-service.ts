import { createArtifactInput, listArtifactsInput, type Artifact, type CreateArtifactInput } from "@logbook/contracts";
import { ArtifactModel } from "@logbook/db";
import { v7 as uuidv7 } from "uuid";
import type { z } from "zod";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { sanitizeJsonForPostgres } from "../json.js";
import { decodeCursor, toPage } from "../pagination.js";
import { assertCursorValues, timestampKey } from "../pagination.js";
import { assertSessionExists } from "./session-records.js";
import { jsonb, rowsOf, violated } from "../sql.js";
import { parseInput } from "../parse-input.js";
import { ARTIFACT_COLUMNS, toArtifactDto } from "./record-dto.js";

/**
 * What a session's work produced (seed 004: test files, reports, diffs, backups), stored
 * by reference (`contentPath`), optionally tied to the step that made it.
 */
export class ArtifactService {
  constructor(private readonly deps: CoreDeps) {}

  /** A step, when given, must exist and belong to the same session (else NOT_FOUND / INVALID_INPUT). */
  async create(input: CreateArtifactInput): Promise<Artifact> {
    const parsed = parseInput(createArtifactInput, input, "artifact");
    try {
      return await this.deps.knex.transaction(async (trx) => {
        if (parsed.stepId !== undefined) {
          // KEY SHARE: the step cannot be deleted (or moved) before the artifact that names it commits.
          const step = await trx("steps")
            .where({ id: parsed.stepId })
            .forKeyShare()
            .first<{ session_id: string } | undefined>("session_id");
          if (!step) throw notFound("step", parsed.stepId);
          if (step.session_id !== parsed.sessionId) {
            throw new AppError(
              "INVALID_INPUT",
              `step ${parsed.stepId} belongs to session ${step.session_id}, not to session ${parsed.sessionId}`,
              { details: { stepId: parsed.stepId, stepSessionId: step.session_id, sessionId: parsed.sessionId } },
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
              parsed.sessionId,
              parsed.stepId ?? null,
              parsed.artifactType,
              parsed.name,
              parsed.contentPath,
              parsed.sizeBytes ?? null,
              jsonb(sanitizeJsonForPostgres(parsed.metadata ?? {})),
            ],
          ),
        );
        return toArtifactDto(ArtifactModel.fromDatabaseJson(rows[0]!));
      });
    } catch (error) {
      if (violated(error, "23503")?.includes("session")) throw notFound("session", parsed.sessionId);
      if (violated(error, "23503")?.includes("step")) throw notFound("step", parsed.stepId ?? "");
      throw error;
    }
  }

  /** Oldest first (created_at, id), optionally of one `artifactType`. */
  async list(input: z.input<typeof listArtifactsInput>): Promise<{ items: Artifact[]; nextCursor: string | null }> {
    const parsed = parseInput(listArtifactsInput, input, "artifact list");
    const knex = this.deps.knex;
    const query = knex("artifacts")
      .select([...ARTIFACT_COLUMNS, knex.raw(`${timestampKey("created_at")} AS cursor_key`)])
      .where("session_id", parsed.sessionId)
      .orderBy([
        { column: "created_at", order: "asc" },
        { column: "id", order: "asc" },
      ])
      .limit(parsed.limit + 1);
    if (parsed.artifactType) query.where("artifact_type", parsed.artifactType);
    if (parsed.cursor !== undefined) {
      const values = decodeCursor(parsed.cursor, ["string", "string"]);
      assertCursorValues(values, ["timestamp", "uuid"]);
      query.whereRaw("(created_at, id) > (?::timestamptz, ?::uuid)", values);
    }
    const rows = (await query) as Array<Record<string, unknown>>;
    if (rows.length === 0 && parsed.cursor === undefined) await assertSessionExists(knex, parsed.sessionId);
    return toPage(
      rows,
      parsed.limit,
      ({ cursor_key: _key, ...row }) => toArtifactDto(ArtifactModel.fromDatabaseJson(row)),
      (row) => [String(row.cursor_key), String(row.id)],
    );
  }
}
