import type { Project, ProjectLock } from "@logbook/contracts";
import type { ProjectLockModel, ProjectModel } from "@logbook/db";

import { iso } from "../time.js";

export const PROJECT_COLUMNS = ["id", "path", "name", "config", "created_at", "updated_at"] as const;

export function toProjectDto(row: ProjectModel): Project {
  return {
    id: row.id,
    path: row.path,
    name: row.name,
    config: row.config ?? {},
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

export const PROJECT_LOCK_COLUMNS = [
  "id",
  "project_id",
  "owner",
  "session_id",
  "acquired_at",
  "renewed_at",
  "expires_at",
] as const;

export function toProjectLockDto(row: ProjectLockModel): ProjectLock {
  return {
    id: row.id,
    projectId: row.projectId,
    owner: row.owner,
    sessionId: row.sessionId,
    acquiredAt: iso(row.acquiredAt),
    renewedAt: iso(row.renewedAt),
    expiresAt: iso(row.expiresAt),
  };
}
