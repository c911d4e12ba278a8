import type { RelationMappings } from "objection";

import { ArtifactModel } from "./artifact-model.js";
import { BaseModel } from "./base-model.js";
import { EventModel } from "./event-model.js";
import { FileModel } from "./file-model.js";
import { JobModel } from "./job-model.js";
import { ProjectModel } from "./project-model.js";
import { SessionMessageModel } from "./session-message-model.js";
import { StepModel } from "./step-model.js";

export class SessionModel extends BaseModel {
  static override tableName = "sessions";

  id!: string;
  externalId!: string | null;
  parentSessionId!: string | null;
  manualParentSessionId!: string | null;
  projectId!: string | null;
  status!: string;
  statusChangedAt!: Date;
  /** Why it waits (`permission: Bash`), or that it went quiet; null otherwise. */
  statusReason!: string | null;
  archivedAt!: Date | null;
  sessionType!: string;
  mode!: string | null;
  permissionMode!: string | null;
  title!: string | null;
  label!: string | null;
  initialQuery!: string | null;
  context!: string | null;
  outputBuffer!: string | null;
  cwd!: string | null;
  transcriptPath!: string | null;
  machineId!: string | null;
  agentId!: string | null;
  agentType!: string | null;
  model!: string | null;
  processId!: string | null;
  isWorking!: boolean;
  currentJobId!: string | null;
  lastJobStatus!: string | null;
  pinned!: boolean;
  hidden!: boolean;
  isUserInitiated!: boolean;
  config!: Record<string, unknown>;
  result!: unknown;
  metadata!: Record<string, unknown>;
  errorMessage!: string | null;
  inputTokens!: number;
  outputTokens!: number;
  cacheReadTokens!: number;
  cacheCreationTokens!: number;
  costUsd!: number;
  /** Messages with tokens but no known price: their cost is not in `costUsd`. */
  unpricedMessages!: number;
  /** Secrets replaced before this session's events were stored. */
  redactions!: number;
  /** Characters PostgreSQL cannot hold in this session's events, stored as U+FFFD. */
  replacedCharacters!: number;
  lastEventSeq!: number;
  createdAt!: Date;
  updatedAt!: Date;
  startedAt!: Date | null;
  lastActivityAt!: Date;
  endedAt!: Date | null;

  parent?: SessionModel | null;
  children?: SessionModel[];
  project?: ProjectModel | null;
  events?: EventModel[];
  messages?: SessionMessageModel[];
  files?: FileModel[];
  steps?: StepModel[];
  artifacts?: ArtifactModel[];
  jobs?: JobModel[];

  static override relationMappings = (): RelationMappings => ({
    parent: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: SessionModel,
      join: { from: "sessions.parent_session_id", to: "sessions.id" },
    },
    children: {
      relation: BaseModel.HasManyRelation,
      modelClass: SessionModel,
      join: { from: "sessions.id", to: "sessions.parent_session_id" },
    },
    project: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: ProjectModel,
      join: { from: "sessions.project_id", to: "projects.id" },
    },
    events: {
      relation: BaseModel.HasManyRelation,
      modelClass: EventModel,
      join: { from: "sessions.id", to: "events.session_id" },
    },
    messages: {
      relation: BaseModel.HasManyRelation,
      modelClass: SessionMessageModel,
      join: { from: "sessions.id", to: "session_messages.session_id" },
    },
    files: {
      relation: BaseModel.HasManyRelation,
      modelClass: FileModel,
      join: { from: "sessions.id", to: "files.session_id" },
    },
    steps: {
      relation: BaseModel.HasManyRelation,
      modelClass: StepModel,
      join: { from: "sessions.id", to: "steps.session_id" },
    },
    artifacts: {
      relation: BaseModel.HasManyRelation,
      modelClass: ArtifactModel,
      join: { from: "sessions.id", to: "artifacts.session_id" },
    },
    jobs: {
      relation: BaseModel.HasManyRelation,
      modelClass: JobModel,
      join: { from: "sessions.id", to: "jobs.session_id" },
    },
  });
}
