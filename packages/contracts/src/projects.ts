import { z } from "zod";

import {
  LIMITS,
  isoDateTime,
  jsonObject,
  pageInput,
  page,
  shortText,
  text,
  uuid,
  storedJsonObject,
  inputObject,
} from "./common.js";

export const project = z.object({
  id: z.string(),
  path: z.string(),
  name: z.string().nullable(),
  config: storedJsonObject(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});
export type Project = z.infer<typeof project>;

export const upsertProjectInput = inputObject({
  /** Canonicalised (trailing slashes, `.` segments removed) before it is stored. */
  path: text(LIMITS.path).min(1, { error: "must not be empty" }),
  name: shortText().optional(),
  config: jsonObject().optional(),
});
export type UpsertProjectInput = z.output<typeof upsertProjectInput>;
export const getProjectInput = z.union(
  [inputObject({ id: uuid() }), inputObject({ path: text(LIMITS.path).min(1, { error: "must not be empty" }) })],
  {
    error: "give the project's id or its path (one of them, nothing else)",
  },
);
export type GetProjectInput = z.output<typeof getProjectInput>;
export const listProjectsInput = inputObject({ search: text(200).optional(), ...pageInput });
export type ListProjectsInput = z.output<typeof listProjectsInput>;
export const projectPage = page(project);

export const projectLock = z.object({
  id: z.string(),
  projectId: z.string(),
  owner: z.string(),
  sessionId: z.string().nullable(),
  acquiredAt: isoDateTime(),
  renewedAt: isoDateTime().nullable(),
  expiresAt: isoDateTime(),
});
export type ProjectLock = z.infer<typeof projectLock>;

const ttlMs = z
  .number()
  .int()
  .min(1_000)
  .max(24 * 60 * 60 * 1000);

export const acquireLockInput = inputObject({
  projectId: uuid(),
  /** Who holds the lock: renew and release must name the same owner. */
  owner: shortText().min(1),
  sessionId: uuid().optional(),
  ttlMs: ttlMs.default(5 * 60 * 1000),
});
export type AcquireLockInput = z.output<typeof acquireLockInput>;
export const renewLockInput = inputObject({
  projectId: uuid(),
  owner: shortText().min(1),
  ttlMs: ttlMs.default(5 * 60 * 1000),
});
export type RenewLockInput = z.output<typeof renewLockInput>;
export const releaseLockInput = inputObject({ projectId: uuid(), owner: shortText().min(1) });
export type ReleaseLockInput = z.output<typeof releaseLockInput>;
export const inspectLockInput = inputObject({ projectId: uuid() });
export type InspectLockInput = z.output<typeof inspectLockInput>;
export const releaseLockResult = z.object({ released: z.boolean() });
