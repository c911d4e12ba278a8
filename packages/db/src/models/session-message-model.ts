import type { RelationMappings } from "objection";

import { BaseModel } from "./base-model.js";
import { SessionModel } from "./session-model.js";

export class SessionMessageModel extends BaseModel {
  static override tableName = "session_messages";

  id!: string;
  sessionId!: string;
  role!: string;
  text!: string;
  model!: string | null;
  sourceEventId!: string | null;
  externalMessageId!: string | null;
  claudeSessionId!: string | null;
  inputTokens!: number;
  outputTokens!: number;
  cacheReadTokens!: number;
  cacheCreationTokens!: number;
  createdAt!: Date;

  session?: SessionModel;

  static override relationMappings = (): RelationMappings => ({
    session: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: SessionModel,
      join: { from: "session_messages.session_id", to: "sessions.id" },
    },
  });
}
