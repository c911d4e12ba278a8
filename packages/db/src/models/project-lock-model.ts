import type { RelationMappings } from "objection";

import { BaseModel } from "./base-model.js";
import { ProjectModel } from "./project-model.js";
import { SessionModel } from "./session-model.js";

export class ProjectLockModel extends BaseModel {
  static override tableName = "project_locks";

  id!: string;
  projectId!: string;
  owner!: string;
  sessionId!: string | null;
  acquiredAt!: Date;
  renewedAt!: Date | null;
  expiresAt!: Date;

  project?: ProjectModel;
  session?: SessionModel | null;

  static override relationMappings = (): RelationMappings => ({
    project: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: ProjectModel,
      join: { from: "project_locks.project_id", to: "projects.id" },
    },
    session: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: SessionModel,
      join: { from: "project_locks.session_id", to: "sessions.id" },
    },
  });
}
