import { BaseModel } from "./base-model.js";

/** Never return this model to a client as is: `keyHash` must not leave the server. */
export class ApiKeyModel extends BaseModel {
  static override tableName = "api_keys";

  id!: string;
  name!: string;
  prefix!: string;
  keyHash!: string;
  scopes!: string[];
  createdAt!: Date;
  lastUsedAt!: Date | null;
  expiresAt!: Date | null;
  revokedAt!: Date | null;
}
