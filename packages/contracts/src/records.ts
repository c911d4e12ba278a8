import { z } from "zod";

import {
  LIMITS,
  isoDateTime,
  jsonObject,
  jsonValue,
  nonEmptyShortText,
  pageInput,
  page,
  shortText,
  text,
  typeName,
  uuid,
  storedJsonObject,
  storedDateTime,
  inputObject,
} from "./common.js";
import { messageRole, stepStatus } from "./enums.js";

// ---------------------------------------------------------------- messages

export const sessionMessage = z.object({
  id: z.string(),
  sessionId: z.string(),
  role: messageRole,
  text: z.string(),
  model: z.string().nullable(),
  sourceEventId: z.string().nullable(),
  externalMessageId: z.string().nullable(),
  claudeSessionId: z.string().nullable(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
  cacheCreationTokens: z.number().int(),
  /** Of the cache writes, those with the 1-hour lifetime. */
  cacheCreation1hTokens: z.number().int(),
  /** USD: what Claude Code reported, else the tokens priced; null when the model has no price. */
  costUsd: z.number().nullable(),
  createdAt: isoDateTime(),
});
export type SessionMessage = z.infer<typeof sessionMessage>;

export const appendMessageInput = inputObject({
  sessionId: uuid(),
  role: messageRole,
  text: text(),
  model: shortText().optional(),
  externalMessageId: shortText().optional(),
  claudeSessionId: shortText().optional(),
  inputTokens: z.number().int().min(0).optional(),
  outputTokens: z.number().int().min(0).optional(),
  createdAt: storedDateTime().optional(),
});
export type AppendMessageInput = z.output<typeof appendMessageInput>;

export const listMessagesInput = inputObject({
  sessionId: uuid(),
  role: messageRole.optional(),
  ...pageInput,
});
export type ListMessagesInput = z.output<typeof listMessagesInput>;
export const messagePage = page(sessionMessage);

// ---------------------------------------------------------------- files

const FORBIDDEN_PATH = /(^|[/\\])\.\.([/\\]|$)/;
const ABSOLUTE_PATH = /^([/\\]|[A-Za-z]:)/;

/** A path relative to the project: no absolute paths, no `..` segments. */
export const relativePath = () =>
  text(LIMITS.path)
    .min(1, { error: "must not be empty" })
    .refine((p) => !ABSOLUTE_PATH.test(p), { error: "must be relative to the project, not absolute" })
    .refine((p) => !FORBIDDEN_PATH.test(p), { error: "must not contain '..' segments" });

export const trackedFile = z.object({
  id: z.string(),
  sessionId: z.string(),
  path: z.string(),
  content: z.string().nullable(),
  encoding: z.string(),
  sizeBytes: z.number().int().nullable(),
  mimeType: z.string().nullable(),
  sha256: z.string().nullable(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});
export type TrackedFile = z.infer<typeof trackedFile>;
/** Listing leaves the content out; `files.get` returns it. */
export const trackedFileSummary = trackedFile.omit({ content: true });

export const upsertFileInput = inputObject({
  sessionId: uuid(),
  path: relativePath(),
  content: text(10_000_000).nullable().optional(),
  encoding: shortText().default("utf-8"),
  /** Defaults to the byte length of `content`. */
  sizeBytes: z.number().int().min(0).optional(),
  mimeType: shortText().optional(),
  /** Defaults to the SHA-256 of `content`. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: "must be 64 lowercase hex digits" })
    .optional(),
});
export type UpsertFileInput = z.output<typeof upsertFileInput>;

export const deleteFileResult = z.object({ deleted: z.boolean() });
export const getFileInput = inputObject({ sessionId: uuid(), path: relativePath() });
export type GetFileInput = z.output<typeof getFileInput>;
export const listFilesInput = inputObject({ sessionId: uuid(), ...pageInput });
export type ListFilesInput = z.output<typeof listFilesInput>;
export const filePage = page(trackedFileSummary);

// ---------------------------------------------------------------- steps

export const step = z.object({
  id: z.string(),
  sessionId: z.string(),
  name: z.string(),
  sequence: z.number().int(),
  status: stepStatus,
  input: z.unknown().nullable(),
  output: z.unknown().nullable(),
  errorMessage: z.string().nullable(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
  startedAt: isoDateTime().nullable(),
  completedAt: isoDateTime().nullable(),
});
export type Step = z.infer<typeof step>;

export const createStepInput = inputObject({
  sessionId: uuid(),
  name: nonEmptyShortText(),
  /** Defaults to one after the session's last step. */
  sequence: z.number().int().min(0).max(1_000_000).optional(),
  input: jsonValue().optional(),
});
export type CreateStepInput = z.output<typeof createStepInput>;
export const completeStepInput = inputObject({ id: uuid(), output: jsonValue().optional() });
export type CompleteStepInput = z.output<typeof completeStepInput>;
export const failStepInput = inputObject({ id: uuid(), errorMessage: text().min(1), output: jsonValue().optional() });
export type FailStepInput = z.output<typeof failStepInput>;
export const listStepsInput = inputObject({ sessionId: uuid() });
export type ListStepsInput = z.output<typeof listStepsInput>;

// ---------------------------------------------------------------- artifacts

export const artifact = z.object({
  id: z.string(),
  sessionId: z.string(),
  stepId: z.string().nullable(),
  artifactType: z.string(),
  name: z.string(),
  contentPath: z.string(),
  sizeBytes: z.number().int().nullable(),
  metadata: storedJsonObject(),
  createdAt: isoDateTime(),
});
export type Artifact = z.infer<typeof artifact>;

export const createArtifactInput = inputObject({
  sessionId: uuid(),
  stepId: uuid().optional(),
  artifactType: typeName(),
  name: nonEmptyShortText(),
  contentPath: text(LIMITS.path).min(1),
  sizeBytes: z.number().int().min(0).optional(),
  metadata: jsonObject().optional(),
});
export type CreateArtifactInput = z.output<typeof createArtifactInput>;
export const listArtifactsInput = inputObject({
  sessionId: uuid(),
  artifactType: typeName().optional(),
  ...pageInput,
});
export type ListArtifactsInput = z.output<typeof listArtifactsInput>;
export const artifactPage = page(artifact);
