import type { Job, JobStatus } from "@logbook/contracts";
import type { JobModel } from "@logbook/db";

import { iso } from "../time.js";

export const JOB_COLUMNS = [
  "id",
  "type",
  "data",
  "status",
  "priority",
  "attempts",
  "max_attempts",
  "error",
  "result",
  "session_id",
  "lease_owner",
  "lease_expires_at",
  "scheduled_at",
  "started_at",
  "completed_at",
  "created_at",
  "updated_at",
] as const;

export function toJobDto(row: JobModel): Job {
  return {
    id: row.id,
    type: row.type,
    data: row.data ?? {},
    status: row.status as JobStatus,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    error: row.error,
    result: row.result ?? null,
    sessionId: row.sessionId,
    leaseOwner: row.leaseOwner,
    leaseExpiresAt: iso(row.leaseExpiresAt),
    scheduledAt: iso(row.scheduledAt),
    startedAt: iso(row.startedAt),
    completedAt: iso(row.completedAt),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}
