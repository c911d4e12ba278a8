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
  tokenUsage,
  uuid,
  storedJsonObject,
  storedDateTime,
  RANGE_OUT_OF_ORDER,
  rangeInOrder,
  inputObject,
} from "./common.js";
import { sessionStatus } from "./enums.js";

/** The agent's own session id (Claude Code's `session_id`), unique across Logbook. */
export const externalId = () =>
  z
    .string()
    .min(1, { error: "must not be empty" })
    .max(LIMITS.shortText, { error: `must be at most ${LIMITS.shortText} characters` })
    .refine((value) => !value.includes("\u0000"), { error: "must not contain NUL characters" });

/** The external id of a subagent's child session: `<parent session id>:agent:<agent id>`. */
export function subagentExternalId(parentExternalId: string, agentId: string): string {
  return `${parentExternalId}:agent:${agentId}`;
}

export const session = z.object({
  id: uuid(),
  externalId: z.string().nullable(),
  parentSessionId: z.string().nullable(),
  manualParentSessionId: z.string().nullable(),
  projectId: z.string().nullable(),
  status: sessionStatus,
  /**
   * Why it has its status, when known: what a waiting session waits for
   * (`permission_prompt: Claude needs your permission to use Bash`), why one ended
   * (`session_end: prompt_input_exit`, `no events for 24 h`).
   */
  statusReason: z.string().nullable(),
  /** When the status last changed: for a waiting session, since when it waits. */
  statusChangedAt: isoDateTime(),
  archivedAt: isoDateTime().nullable(),
  sessionType: z.string(),
  mode: z.string().nullable(),
  permissionMode: z.string().nullable(),
  title: z.string().nullable(),
  label: z.string().nullable(),
  initialQuery: z.string().nullable(),
  context: z.string().nullable(),
  outputBuffer: z.string().nullable(),
  cwd: z.string().nullable(),
  transcriptPath: z.string().nullable(),
  machineId: z.string().nullable(),
  agentId: z.string().nullable(),
  agentType: z.string().nullable(),
  model: z.string().nullable(),
  processId: z.string().nullable(),
  isWorking: z.boolean(),
  currentJobId: z.string().nullable(),
  lastJobStatus: z.string().nullable(),
  pinned: z.boolean(),
  hidden: z.boolean(),
  isUserInitiated: z.boolean(),
  config: storedJsonObject(),
  result: z.unknown().nullable(),
  metadata: storedJsonObject(),
  errorMessage: z.string().nullable(),
  tokens: tokenUsage,
  /** Secrets replaced before this session's events were stored (docs/redaction.md). */
  redactions: z.number().int().min(0),
  /** Characters of this session's events stored as U+FFFD (an event's `replacedCharacters`, summed). */
  replacedCharacters: z.number().int().min(0),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
  startedAt: isoDateTime().nullable(),
  lastActivityAt: isoDateTime(),
  endedAt: isoDateTime().nullable(),
});
export type Session = z.infer<typeof session>;

/** Fields a caller may set when creating a session (status starts at `pending` unless given). */
export const createSessionInput = inputObject({
  id: uuid().optional(),
  externalId: externalId().optional(),
  parentSessionId: uuid().optional(),
  projectPath: text(LIMITS.path).min(1).optional(),
  status: sessionStatus.optional(),
  sessionType: nonEmptyShortText().optional(),
  mode: shortText().optional(),
  permissionMode: shortText().optional(),
  title: text(LIMITS.title).optional(),
  label: text(LIMITS.title).optional(),
  initialQuery: text().optional(),
  context: text().optional(),
  cwd: text(LIMITS.path).optional(),
  transcriptPath: text(LIMITS.path).optional(),
  machineId: shortText().optional(),
  agentId: shortText().optional(),
  agentType: shortText().optional(),
  model: shortText().optional(),
  processId: shortText().optional(),
  isUserInitiated: z.boolean().optional(),
  pinned: z.boolean().optional(),
  hidden: z.boolean().optional(),
  config: jsonObject().optional(),
  metadata: jsonObject().optional(),
});
export type CreateSessionInput = z.output<typeof createSessionInput>;

/** What a person or a tool may change on a session; status has its own procedure. */
export const updateSessionInput = inputObject({
  id: uuid(),
  title: text(LIMITS.title).nullable().optional(),
  label: text(LIMITS.title).nullable().optional(),
  pinned: z.boolean().optional(),
  hidden: z.boolean().optional(),
  context: text().nullable().optional(),
  mode: shortText().nullable().optional(),
  model: shortText().nullable().optional(),
  outputBuffer: text().nullable().optional(),
  isWorking: z.boolean().optional(),
  currentJobId: uuid().nullable().optional(),
  lastJobStatus: shortText().nullable().optional(),
  manualParentSessionId: uuid().nullable().optional(),
  config: jsonObject().optional(),
  result: jsonValue().optional(),
  /** Merged into the existing metadata (top-level keys); `null` values remove keys. */
  metadata: jsonObject().optional(),
});
export type UpdateSessionInput = z.output<typeof updateSessionInput>;

export const getSessionInput = z.union([inputObject({ id: uuid() }), inputObject({ externalId: externalId() })], {
  error: "give the session's id or its externalId (one of them, nothing else)",
});
export type GetSessionInput = z.output<typeof getSessionInput>;

export const transitionSessionInput = inputObject({
  id: uuid(),
  to: sessionStatus,
  errorMessage: text().optional(),
  result: jsonValue().optional(),
});
export type TransitionSessionInput = z.output<typeof transitionSessionInput>;

export const SESSION_SORTS = ["lastActivity", "created"] as const;

export const listSessionsInput = inputObject({
  status: z.array(sessionStatus).min(1).max(10).optional(),
  projectId: uuid().optional(),
  machineId: shortText().optional(),
  agentType: shortText().optional(),
  sessionType: shortText().optional(),
  /** A session id, or `null` for root sessions only. */
  parentSessionId: uuid().nullable().optional(),
  pinned: z.boolean().optional(),
  hidden: z.boolean().optional(),
  label: text(LIMITS.title).optional(),
  /** `false` (default): not archived; `true`: archived only; omit with `includeArchived` for both. */
  archived: z.boolean().optional(),
  /** Only sessions whose last activity (or creation, with `sort: "created"`) is in this range. */
  from: storedDateTime().optional(),
  to: storedDateTime().optional(),
  /** Case-insensitive text in title, label or initial query. */
  search: text(200).optional(),
  sort: z.enum(SESSION_SORTS).default("lastActivity"),
  ...pageInput,
}).refine(rangeInOrder, RANGE_OUT_OF_ORDER);
export type ListSessionsInput = z.output<typeof listSessionsInput>;

export const sessionPage = page(session);
export type SessionPage = z.infer<typeof sessionPage>;

export const sessionTreeInput = inputObject({
  id: uuid(),
  /** Levels below the session to include. */
  maxDepth: z.number().int().min(1).max(100).default(20),
});

export const sessionTreeNode = z.object({
  session,
  depth: z.number().int(),
});
export const sessionTree = z.object({
  /** From the root down to the session's parent. */
  ancestors: z.array(session),
  session,
  /** Every session below it, parents before children, with their depth (1 = child). */
  descendants: z.array(sessionTreeNode),
  /** Token usage of the session and all its descendants. */
  totalTokens: tokenUsage,
});
export type SessionTree = z.infer<typeof sessionTree>;

export const archiveSessionInput = inputObject({ id: uuid(), archived: z.boolean() });

/** `sessions.delete` answers with how many sessions went (the session and its descendants). */
export const deleteSessionResult = z.object({ deleted: z.number().int() });

/** Session changes are not resumable: each one carries the whole current session. */
export const sessionStreamInput = inputObject({ sessionId: uuid().optional(), projectId: uuid().optional() });

/** `sessions.needsYou`: sessions waiting for the person, longest first. */
export const needsYouInput = inputObject({
  limit: z.number().int().min(1).max(500).default(50),
  includeHidden: z.boolean().default(false),
  projectId: uuid().optional(),
  machineId: shortText().optional(),
  agentType: shortText().optional(),
  /** A session id, or `null` for root sessions only. */
  parentSessionId: uuid().nullable().optional(),
  /** Only sessions whose last activity is at or after this. */
  from: storedDateTime().optional(),
});
export type NeedsYouInput = z.output<typeof needsYouInput>;
export const needsYouItem = z.object({
  session,
  /** What it waits for: `permission: Bash`, `idle_prompt: Claude is waiting for your input`, … */
  reason: z.string().nullable(),
  waitingSince: isoDateTime(),
  waitingSeconds: z.number(),
});
export type NeedsYouItem = z.infer<typeof needsYouItem>;
export const needsYouOutput = z.array(needsYouItem);

/** When quiet sessions stop counting as running (server settings; see apps/server/README.md). */
export const inactivityPolicy = z.object({
  /** An `active` session with no event for this long becomes `idle`. */
  idleAfterMinutes: z.number().int().min(1),
  /** An open session (not paused) with no event for this long is ended (`terminated`). */
  endAfterHours: z.number().int().min(1),
});
export type InactivityPolicy = z.infer<typeof inactivityPolicy>;
export const inactivitySweepResult = z.object({ idled: z.number().int(), ended: z.number().int() });
export type InactivitySweepResult = z.infer<typeof inactivitySweepResult>;
