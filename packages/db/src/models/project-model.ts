import type { RelationMappings } from "objection";

import { BaseModel } from "./base-model.js";
import { ProjectLockModel } from "./project-lock-model.js";
import { SessionModel } from "./session-model.js";

export class ProjectModel extends BaseModel {
  static override tableName = "projects";

  id!: string;
  path!: string;
  name!: string | null;
  config!: Record<string, unknown>;
  createdAt!: Date;
  updatedAt!: Date;

  sessions?: SessionModel[];
  lock?: ProjectLockModel | null;

  // A thunk: the related classes are read when Objection first needs them, not at import.
  static override relationMappings = (): RelationMappings => ({
    sessions: {
      relation: BaseModel.HasManyRelation,
      modelClass: SessionModel,
      join: { from: "projects.id", to: "sessions.project_id" },
    },
    lock: {
      relation: BaseModel.HasOneRelation,
      modelClass: ProjectLockModel,
      join: { from: "projects.id", to: "project_locks.project_id" },
    },
  });
}
