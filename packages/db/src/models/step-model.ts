import type { RelationMappings } from "objection";

import { ArtifactModel } from "./artifact-model.js";
import { BaseModel } from "./base-model.js";
import { SessionModel } from "./session-model.js";

export class StepModel extends BaseModel {
  static override tableName = "steps";

  id!: string;
  sessionId!: string;
  name!: string;
  sequence!: number;
  status!: string;
  input!: unknown;
  output!: unknown;
  errorMessage!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
  startedAt!: Date | null;
  completedAt!: Date | null;

  session?: SessionModel;
  artifacts?: ArtifactModel[];

  static override relationMappings = (): RelationMappings => ({
    session: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: SessionModel,
      join: { from: "steps.session_id", to: "sessions.id" },
    },
    artifacts: {
      relation: BaseModel.HasManyRelation,
      modelClass: ArtifactModel,
      join: { from: "steps.id", to: "artifacts.step_id" },
    },
  });
}
