import { z } from "zod";

import {
  isoDateTime,
  jsonObject,
  jsonValue,
  pageInput,
  page,
  shortText,
  text,
  typeName,
  uuid,
  storedDateTime,
  inputObject,
} from "./common.js";
import { jobStatus } from "./enums.js";

export const job = z.object({
  id: z.string(),
  type: z.string(),
  data: z.unknown(),
  status: jobStatus,
  priority: z.number().int(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  error: z.string().nullable(),
  result: z.unknown().nullable(),
  sessionId: z.string().nullable(),
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: isoDateTime().nullable(),
  scheduledAt: isoDateTime(),
  startedAt: isoDateTime().nullable(),
  completedAt: isoDateTime().nullable(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});
export type Job = z.infer<typeof job>;

export const enqueueJobInput = inputObject({
  type: typeName(),
  data: jsonObject().default({}),
  /** Higher runs first. */
  priority: z.number().int().min(-1000).max(1000).default(0),
  /** Not before this time. @default now */
  runAt: storedDateTime().optional(),
  maxAttempts: z.number().int().min(1).max(100).default(3),
  sessionId: uuid().optional(),
});
export type EnqueueJobInput = z.output<typeof enqueueJobInput>;

export const claimJobsInput = inputObject({
  /** Identifies the worker; complete/fail must come from the same one. */
  workerId: shortText().min(1),
  types: z.array(typeName()).min(1).max(50).optional(),
  limit: z.number().int().min(1).max(100).default(1),
  leaseMs: z
    .number()
    .int()
    .min(1_000)
    .max(24 * 60 * 60 * 1000)
    .default(5 * 60 * 1000),
});
export type ClaimJobsInput = z.output<typeof claimJobsInput>;

export const completeJobInput = inputObject({
  id: uuid(),
  workerId: shortText().min(1),
  result: jsonValue().optional(),
});
export type CompleteJobInput = z.output<typeof completeJobInput>;
export const failJobInput = inputObject({
  id: uuid(),
  workerId: shortText().min(1),
  error: text().min(1),
  /** Skip the remaining attempts. */
  permanent: z.boolean().default(false),
});
export type FailJobInput = z.output<typeof failJobInput>;
export const extendJobLeaseInput = inputObject({
  id: uuid(),
  workerId: shortText().min(1),
  leaseMs: z
    .number()
    .int()
    .min(1_000)
    .max(24 * 60 * 60 * 1000)
    .default(5 * 60 * 1000),
});
export type ExtendJobLeaseInput = z.output<typeof extendJobLeaseInput>;
export const listJobsInput = inputObject({
  status: z.array(jobStatus).min(1).optional(),
  type: typeName().optional(),
  sessionId: uuid().optional(),
  ...pageInput,
});
export type ListJobsInput = z.output<typeof listJobsInput>;
export const jobPage = page(job);
export const recoverLeasesResult = z.object({ recovered: z.number().int(), failed: z.number().int() });
