import type { Session, SessionStatus } from "@logbook/contracts";
import type { SessionModel } from "@logbook/db";

import { iso } from "../time.js";

/** The columns a session DTO is built from (SELECT exactly these: no internal columns leak). */
export const SESSION_COLUMNS = [
  "id", "external_id", "parent_session_id", "manual_parent_session_id", "project_id", "status", "archived_at",
  "session_type", "mode", "permission_mode", "title", "label", "initial_query", "context", "output_buffer", "cwd",
  "transcript_path", "machine_id", "agent_id", "agent_type", "model", "process_id", "is_working", "current_job_id",
  "last_job_status", "pinned", "hidden", "is_user_initiated", "config", "result", "metadata", "error_message",
  "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd", "created_at",
  "updated_at", "started_at", "last_activity_at", "ended_at",
] as const;

export function toSessionDto(row: SessionModel): Session {
  return {
    id: row.id,
    externalId: row.externalId,
    parentSessionId: row.parentSessionId,
    manualParentSessionId: row.manualParentSessionId,
    projectId: row.projectId,
    status: row.status as SessionStatus,
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
    },
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    startedAt: iso(row.startedAt),
    lastActivityAt: iso(row.lastActivityAt),
    endedAt: iso(row.endedAt),
  };
}
