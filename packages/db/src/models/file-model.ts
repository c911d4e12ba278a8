import type { RelationMappings } from "objection";

import { BaseModel } from "./base-model.js";
import { SessionModel } from "./session-model.js";

export class FileModel extends BaseModel {
  static override tableName = "files";

  id!: string;
  sessionId!: string;
  path!: string;
  content!: string | null;
  encoding!: string;
  sizeBytes!: number | null;
  mimeType!: string | null;
  sha256!: string | null;
  createdAt!: Date;
  updatedAt!: Date;

  session?: SessionModel;

  static override relationMappings = (): RelationMappings => ({
    session: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: SessionModel,
      join: { from: "files.session_id", to: "sessions.id" },
    },
  });
}
