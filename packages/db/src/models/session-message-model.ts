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
  /** Of the cache writes, those with the 1-hour lifetime (priced higher). */
  cacheCreation1hTokens!: number;
  /** Null when the message has tokens but no known price (an unknown model). */
  costUsd!: number | null;
  /** What Claude Code itself reported (`costUSD` on the line): wins over the computed cost. */
  reportedCostUsd!: number | null;
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
