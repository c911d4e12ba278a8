import type { RelationMappings } from "objection";

import { BaseModel } from "./base-model.js";
import { SessionModel } from "./session-model.js";

export class JobModel extends BaseModel {
  static override tableName = "jobs";

  id!: string;
  type!: string;
  data!: unknown;
  status!: string;
  priority!: number;
  attempts!: number;
  maxAttempts!: number;
  error!: string | null;
  result!: unknown;
  sessionId!: string | null;
  leaseOwner!: string | null;
  leaseExpiresAt!: Date | null;
  scheduledAt!: Date;
  startedAt!: Date | null;
  completedAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  session?: SessionModel | null;

  static override relationMappings = (): RelationMappings => ({
    session: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: SessionModel,
      join: { from: "jobs.session_id", to: "sessions.id" },
    },
  });
}
