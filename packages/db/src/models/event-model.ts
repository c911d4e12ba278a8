import type { RelationMappings } from "objection";

import { BaseModel } from "./base-model.js";
import { SessionModel } from "./session-model.js";

export class EventModel extends BaseModel {
  static override tableName = "events";
  static override get idColumn(): string[] {
    return ["session_id", "occurred_at", "id"];
  }

  id!: string;
  sessionId!: string;
  seq!: number;
  streamSeq!: number;
  eventType!: string;
  source!: string;
  level!: string;
  message!: string | null;
  toolName!: string | null;
  toolUseId!: string | null;
  parentEventId!: string | null;
  parentUuid!: string | null;
  isSidechain!: boolean;
  agentId!: string | null;
  cwd!: string | null;
  machineId!: string | null;
  payload!: unknown;
  /** Secrets replaced before the event was stored. */
  redactions!: number;
  /** Characters PostgreSQL cannot hold, stored as U+FFFD. */
  replacedCharacters!: number;
  occurredAt!: Date;
  receivedAt!: Date;

  session?: SessionModel;

  static override relationMappings = (): RelationMappings => ({
    session: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: SessionModel,
      join: { from: "events.session_id", to: "sessions.id" },
    },
  });
}
