import type { RelationMappings } from "objection";

import { BaseModel } from "./base-model.js";
import { SessionModel } from "./session-model.js";
import { StepModel } from "./step-model.js";

export class ArtifactModel extends BaseModel {
  static override tableName = "artifacts";

  id!: string;
  sessionId!: string;
  stepId!: string | null;
  artifactType!: string;
  name!: string;
  contentPath!: string;
  sizeBytes!: number | null;
  metadata!: Record<string, unknown>;
  createdAt!: Date;

  session?: SessionModel;
  step?: StepModel | null;

  static override relationMappings = (): RelationMappings => ({
    session: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: SessionModel,
      join: { from: "artifacts.session_id", to: "sessions.id" },
    },
    step: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: StepModel,
      join: { from: "artifacts.step_id", to: "steps.id" },
    },
  });
}
