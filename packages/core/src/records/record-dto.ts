import type { Artifact, MessageRole, SessionMessage, Step, StepStatus, TrackedFile } from "@logbook/contracts";
import type { ArtifactModel, FileModel, SessionMessageModel, StepModel } from "@logbook/db";

import { iso } from "../time.js";

export const MESSAGE_COLUMNS = [
  "id",
  "session_id",
  "role",
  "text",
  "model",
  "source_event_id",
  "external_message_id",
  "claude_session_id",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_creation_tokens",
  "cache_creation_1h_tokens",
  "cost_usd",
  "created_at",
] as const;

export function toMessageDto(row: SessionMessageModel): SessionMessage {
  return {
    id: row.id,
    sessionId: row.sessionId,
    role: row.role as MessageRole,
    text: row.text,
    model: row.model,
    sourceEventId: row.sourceEventId,
    externalMessageId: row.externalMessageId,
    claudeSessionId: row.claudeSessionId,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    cacheReadTokens: row.cacheReadTokens,
    cacheCreationTokens: row.cacheCreationTokens,
    cacheCreation1hTokens: row.cacheCreation1hTokens,
    costUsd: row.costUsd,
    createdAt: iso(row.createdAt),
  };
}

export const FILE_SUMMARY_COLUMNS = [
  "id",
  "session_id",
  "path",
  "encoding",
  "size_bytes",
  "mime_type",
  "sha256",
  "created_at",
  "updated_at",
] as const;
export const FILE_COLUMNS = [...FILE_SUMMARY_COLUMNS, "content"] as const;

export type TrackedFileSummary = Omit<TrackedFile, "content">;

export function toFileSummaryDto(row: FileModel): TrackedFileSummary {
  return {
    id: row.id,
    sessionId: row.sessionId,
    path: row.path,
    encoding: row.encoding,
    sizeBytes: row.sizeBytes,
    mimeType: row.mimeType,
    sha256: row.sha256,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

export function toFileDto(row: FileModel): TrackedFile {
  return { ...toFileSummaryDto(row), content: row.content };
}

export const STEP_COLUMNS = [
  "id",
  "session_id",
  "name",
  "sequence",
  "status",
  "input",
  "output",
  "error_message",
  "created_at",
  "updated_at",
  "started_at",
  "completed_at",
] as const;

export function toStepDto(row: StepModel): Step {
  return {
    id: row.id,
    sessionId: row.sessionId,
    name: row.name,
    sequence: row.sequence,
    status: row.status as StepStatus,
    input: row.input ?? null,
    output: row.output ?? null,
    errorMessage: row.errorMessage,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    startedAt: iso(row.startedAt),
    completedAt: iso(row.completedAt),
  };
}

export const ARTIFACT_COLUMNS = [
  "id",
  "session_id",
  "step_id",
  "artifact_type",
  "name",
  "content_path",
  "size_bytes",
  "metadata",
  "created_at",
] as const;

export function toArtifactDto(row: ArtifactModel): Artifact {
  return {
    id: row.id,
    sessionId: row.sessionId,
    stepId: row.stepId,
    artifactType: row.artifactType,
    name: row.name,
    contentPath: row.contentPath,
    sizeBytes: row.sizeBytes,
    metadata: row.metadata ?? {},
    createdAt: iso(row.createdAt),
  };
}
