import type { Session, SessionStatus } from "@logbook/contracts";
import { SessionModel } from "@logbook/db";

import { iso } from "../time.js";

/** The columns a session DTO is built from (SELECT exactly these: no internal columns leak). */
export const SESSION_COLUMNS = [
  "id",
  "external_id",
  "parent_session_id",
  "manual_parent_session_id",
  "project_id",
  "status",
  "status_reason",
  "status_changed_at",
  "archived_at",
  "session_type",
  "mode",
  "permission_mode",
  "title",
  "label",
  "initial_query",
  "context",
  "output_buffer",
  "cwd",
  "transcript_path",
  "machine_id",
  "agent_id",
  "agent_type",
  "model",
  "process_id",
  "is_working",
  "current_job_id",
  "last_job_status",
  "pinned",
  "hidden",
  "is_user_initiated",
  "config",
  "result",
  "metadata",
  "error_message",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_creation_tokens",
  "cost_usd",
  "unpriced_messages",
  "redactions",
  "replaced_characters",
  "created_at",
  "updated_at",
  "started_at",
  "last_activity_at",
  "ended_at",
] as const;

/** `snake_case` to `camelCase`, at the type level: a column's property name on the model. */
type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;

/** What a DTO is built from: the model's fields of SESSION_COLUMNS (a model, or a row read without objection). */
type SessionFields = Pick<SessionModel, Camel<(typeof SESSION_COLUMNS)[number]>>;

/** Each column with its property name, named by the model's own column mapper (computed once). */
const CAMEL_COLUMNS = SESSION_COLUMNS.map((column) => {
  const [property = column] = Object.keys(SessionModel.columnNameMappers.parse({ [column]: null }));
  return [column, property] as const;
});

/**
 * A `sessions` row selected with SESSION_COLUMNS as the model's fields, without objection:
 * the list reads 50 rows a page, and objection's model instances (a column-name mapping per
 * key of every row, then a copy into the model) were a seventh of the list's CPU (issue 15).
 */
export function sessionFieldsOf(row: Record<string, unknown>): SessionFields {
  const fields: Record<string, unknown> = {};
  for (const [column, property] of CAMEL_COLUMNS) fields[property] = row[column];
  // Why a cast: the row holds exactly SESSION_COLUMNS (the caller selected them), typed by the driver.
  return fields as unknown as SessionFields;
}

export function toSessionDto(row: SessionFields): Session {
  return {
    id: row.id,
    externalId: row.externalId,
    parentSessionId: row.parentSessionId,
    manualParentSessionId: row.manualParentSessionId,
    projectId: row.projectId,
    status: row.status as SessionStatus,
    statusReason: row.statusReason,
    statusChangedAt: row.statusChangedAt.toISOString(),
    archivedAt: iso(row.archivedAt),
    sessionType: row.sessionType,
    mode: row.mode,
    permissionMode: row.permissionMode,
    title: row.title,
    label: row.label,
    initialQuery: row.initialQuery,
    context: row.context,
    outputBuffer: row.outputBuffer,
    cwd: row.cwd,
    transcriptPath: row.transcriptPath,
    machineId: row.machineId,
    agentId: row.agentId,
    agentType: row.agentType,
    model: row.model,
    processId: row.processId,
    isWorking: row.isWorking,
    currentJobId: row.currentJobId,
    lastJobStatus: row.lastJobStatus,
    pinned: row.pinned,
    hidden: row.hidden,
    isUserInitiated: row.isUserInitiated,
    config: row.config ?? {},
    result: row.result ?? null,
    metadata: row.metadata ?? {},
    errorMessage: row.errorMessage,
    tokens: {
      inputTokens: row.inputTokens,
      outputTokens: row.outputTokens,
      cacheReadTokens: row.cacheReadTokens,
      cacheCreationTokens: row.cacheCreationTokens,
      costUsd: row.costUsd,
      unpricedMessages: row.unpricedMessages,
    },
    redactions: row.redactions,
    replacedCharacters: row.replacedCharacters,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    startedAt: iso(row.startedAt),
    lastActivityAt: iso(row.lastActivityAt),
    endedAt: iso(row.endedAt),
  };
}
