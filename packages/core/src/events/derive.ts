import { isTerminalStatus, type EventSource, type MessageRole, type SessionStatus } from "@logbook/contracts";

import { isUnknownTime } from "../time.js";
import { canTransition, isInactivityEnd } from "../sessions/session-status.js";

/**
 * Deriving session state from newly stored events. Pure functions: the ingest
 * transaction feeds them only the events that were actually inserted (never the
 * duplicates), so replays and re-imports derive nothing twice.
 */

export interface DerivableEvent {
  id: string;
  eventType: string;
  source: EventSource;
  occurredAt: Date;
  /** When the batch arrived: the date of what is derived from an event whose time is unknown. */
  receivedAt?: Date;
  payload: Record<string, unknown>;
  cwd: string | undefined;
  machineId: string | undefined;
  agentType: string | undefined;
}

export interface SessionState {
  status: SessionStatus;
  /** `status_reason`: what a waiting session waits for, or why it was ended. */
  statusReason: string | null;
  statusChangedAt: Date;
  startedAt: Date | null;
  lastActivityAt: Date;
  initialQuery: string | null;
  title: string | null;
  cwd: string | null;
}

export interface DerivedMessage {
  role: MessageRole;
  text: string;
  model: string | null;
  sourceEventId: string | null;
  externalMessageId: string | null;
  claudeSessionId: string | null;
  usage: Usage | null;
  /** What Claude Code reported this response cost (`costUSD` on the line), if it did. */
  reportedCostUsd: number | null;
  createdAt: Date;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  /** Of the cache writes, those with the 1-hour lifetime (`cache_creation.ephemeral_1h_input_tokens`). */
  cacheCreation1hTokens: number;
}

/** Column changes for the `sessions` row (snake_case), plus messages to store. */
export interface Derivation {
  patch: Record<string, unknown>;
  metadata: Record<string, unknown>;
  messages: DerivedMessage[];
  statusChanged: boolean;
  /** Where the agent works: the git root a payload or line names, else the first cwd seen. */
  projectPath: string | null;
}

interface StatusRule {
  to: SessionStatus;
  /** May bring a finished session back (the agent resumed it). */
  reopen?: boolean;
  /** Why the session waits for the person, or why it ended (kept as `status_reason` until the status changes). */
  reason?: string;
}

/** A status reason: the event's own words when it has some, else what kind of wait or end it is. */
function reasonWithDetail(kind: string, detail: string | undefined): string {
  const text = detail?.replace(/\s+/g, " ").trim();
  return text ? `${kind}: ${text.slice(0, 500)}` : kind;
}

const str = (value: unknown): string | undefined => (typeof value === "string" && value.length > 0 ? value : undefined);

const WAITING_NOTICE = /waiting for your input|needs your permission|needs your attention/i;
/** SessionEnd reasons that mean the person ended the session on purpose. */
const NORMAL_END_REASONS = new Set(["prompt_input_exit", "clear", "logout", "exit"]);

/** Which status a Claude Code hook event implies (docs/data-model.md has the table). */
export function hookStatusRule(event: DerivableEvent): StatusRule | null {
  const p = event.payload;
  switch (event.eventType) {
    case "SessionStart":
      return { to: "active", reopen: true };
    case "UserPromptSubmit":
      return { to: "active", reopen: true };
    case "UserPromptExpansion": // a slash command the person typed, expanded into a prompt
      return { to: "active", reopen: true };
    case "PreToolUse":
    case "PostToolUse":
    case "PostToolUseFailure":
    case "PostToolBatch":
    case "PermissionDenied": // the auto-mode classifier said no; the agent goes on without the call
    case "SubagentStart":
    case "TaskCreated":
    case "TaskCompleted":
    case "MessageDisplay": // the agent's reply reaching the screen
    case "ElicitationResult": // the person answered an MCP server's question; the agent goes on
      return { to: "active" };
    case "PermissionRequest":
      return { to: "waiting_input", reason: reasonWithDetail("permission", str(p.tool_name)) };
    case "Elicitation":
      return { to: "waiting_input", reason: reasonWithDetail("elicitation", str(p.message)) };
    case "Notification": {
      const type = str(p.notification_type);
      if (type === "idle_prompt" || type === "permission_prompt" || type === "elicitation_dialog")
        return { to: "waiting_input", reason: reasonWithDetail(type, str(p.message)) };
      if (type === undefined && WAITING_NOTICE.test(str(p.message) ?? "")) {
        return { to: "waiting_input", reason: reasonWithDetail("notification", str(p.message)) };
      }
      return null;
    }
    case "Stop":
    case "StopFailure":
      return { to: "idle" };
    case "SubagentStop":
      return { to: "completed" };
    case "SessionEnd": {
      // The reason stays with the end (`session_end: logout`): "terminated" alone does not say
      // whether the terminal closed, the person logged out or Claude Code ended it.
      const reason = str(p.reason);
      return {
        to: NORMAL_END_REASONS.has(reason ?? "") ? "completed" : "terminated",
        reason: reasonWithDetail("session_end", reason),
      };
    }
    default:
      return null;
  }
}

/**
 * The seeds' lifecycle event types (seed 000), sent through the API. A Map: the event type
 * is the caller's text, and `"constructor"` must not find Object.prototype's.
 */
const LIFECYCLE_RULES: ReadonlyMap<string, StatusRule> = new Map(
  Object.entries({
    session_created: { to: "pending" },
    session_started: { to: "active" },
    session_idle: { to: "idle" },
    session_resumed: { to: "active", reopen: true },
    session_terminated: { to: "terminated" },
    session_failed: { to: "failed" },
  } satisfies Record<string, StatusRule>),
);

function statusRule(event: DerivableEvent): StatusRule | null {
  if (event.source === "hook") return hookStatusRule(event);
  if (event.source === "transcript") return { to: "idle" }; // a transcript says the session existed, not that it runs now
  return LIFECYCLE_RULES.get(event.eventType) ?? null;
}

function textOfContent(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const parts: string[] = [];
  for (const block of content) {
    if (block && typeof block === "object" && (block as { type?: unknown }).type === "text") {
      const t = (block as { text?: unknown }).text;
      if (typeof t === "string" && t.length > 0) parts.push(t);
    }
  }
  return parts.join("\n\n");
}

function numberOr0(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0;
}

function usageOf(raw: unknown): Usage | null {
  if (!raw || typeof raw !== "object") return null;
  const u = raw as Record<string, unknown>;
  const cacheCreationTokens = numberOr0(u.cache_creation_input_tokens);
  const breakdown =
    u.cache_creation && typeof u.cache_creation === "object" ? (u.cache_creation as Record<string, unknown>) : {};
  return {
    inputTokens: numberOr0(u.input_tokens),
    outputTokens: numberOr0(u.output_tokens),
    cacheReadTokens: numberOr0(u.cache_read_input_tokens),
    cacheCreationTokens,
    // Older versions give only the total: all of it is priced as 5-minute writes then.
    cacheCreation1hTokens: Math.min(numberOr0(breakdown.ephemeral_1h_input_tokens), cacheCreationTokens),
  };
}

/** A message's time: its event's, or the arrival time when the event's time is unknown. */
function createdAtOf(event: DerivableEvent): Date {
  return isUnknownTime(event.occurredAt) && event.receivedAt ? event.receivedAt : event.occurredAt;
}

/** More tokens than any one message can hold; also keeps every sum far from bigint's end. */
export const MAX_TOKENS_PER_MESSAGE = 1e12;
const USAGE_FIELDS = [
  "input_tokens",
  "output_tokens",
  "cache_read_input_tokens",
  "cache_creation_input_tokens",
] as const;

/**
 * Why an event's token counts cannot be counted (the field, relative to the event, and
 * what is wrong), or null. Only an assistant transcript line's `message.usage` is counted;
 * a count that is a number but not a whole number from 0 to MAX_TOKENS_PER_MESSAGE would
 * otherwise be counted as 0 or overflow the session's sums (a 400 for the whole batch that
 * named no event).
 */
export function tokenCountProblem(event: { source?: string | undefined; payload: unknown }): string | null {
  if (event.source !== "transcript") return null;
  const line = event.payload as { type?: unknown; message?: { usage?: unknown } } | null;
  if (line?.type !== "assistant") return null;
  const usage = line.message?.usage;
  if (!usage || typeof usage !== "object") return null;
  const u = usage as Record<string, unknown>;
  const breakdown = u.cache_creation && typeof u.cache_creation === "object" ? u.cache_creation : {};
  const fields: Array<[string, unknown]> = [
    ...USAGE_FIELDS.map((f): [string, unknown] => [f, u[f]]),
    ["cache_creation.ephemeral_1h_input_tokens", (breakdown as Record<string, unknown>).ephemeral_1h_input_tokens],
  ];
  for (const [field, value] of fields) {
    if (typeof value !== "number") continue;
    if (!Number.isInteger(value) || value < 0 || value > MAX_TOKENS_PER_MESSAGE) {
      return `payload.message.usage.${field}: ${value} is not a token count (a whole number from 0 to ${MAX_TOKENS_PER_MESSAGE})`;
    }
  }
  return null;
}

function transcriptMessage(event: DerivableEvent): DerivedMessage | null {
  const line = event.payload;
  if (line.type !== "user" && line.type !== "assistant") return null;
  const message = line.message as Record<string, unknown> | undefined;
  if (!message || typeof message !== "object") return null;
  const text = textOfContent(message.content);
  const role: MessageRole = line.type === "assistant" ? "assistant" : "user";
  const externalMessageId = role === "assistant" ? (str(message.id) ?? null) : null;
  // Tool results travel in "user" lines; they are not what the person said.
  if (role === "user" && (text.length === 0 || line.isMeta === true)) return null;
  if (role === "assistant" && text.length === 0 && externalMessageId === null) return null;
  const model = str(message.model);
  const reported =
    typeof line.costUSD === "number" && Number.isFinite(line.costUSD) && line.costUSD >= 0 && line.costUSD < 1e9
      ? line.costUSD
      : null;
  return {
    role,
    text,
    model: model && model !== "<synthetic>" ? model : null,
    sourceEventId: externalMessageId === null ? event.id : null,
    externalMessageId,
    claudeSessionId: str(line.sessionId) ?? null,
    usage: role === "assistant" ? usageOf(message.usage) : null,
    reportedCostUsd: role === "assistant" ? reported : null,
    createdAt: createdAtOf(event),
  };
}

function hookMessage(event: DerivableEvent): DerivedMessage | null {
  const p = event.payload;
  let role: MessageRole | null = null;
  let text: string | undefined;
  if (event.eventType === "UserPromptSubmit") {
    role = "user";
    text = str(p.prompt);
  } else if (event.eventType === "Stop" || event.eventType === "SubagentStop") {
    role = "assistant";
    text = str(p.last_assistant_message);
  }
  if (!role || !text) return null;
  return {
    role,
    text,
    model: null,
    sourceEventId: event.id,
    externalMessageId: null,
    claudeSessionId: str(p.session_id) ?? null,
    usage: null,
    reportedCostUsd: null,
    createdAt: createdAtOf(event),
  };
}

/**
 * Where a hook event says the agent now works. CwdChanged names the new directory; a worktree
 * Claude Code creates (`worktree_path`, when the payload has it) is where the session goes on;
 * removing the worktree the session sits in sends it back to the directory the hook ran in.
 * DirectoryAdded only widens what the agent may reach (`/add-dir`): its cwd stays.
 */
function hookPlaceChange(
  eventType: string,
  p: Record<string, unknown>,
  cwd: string | null,
): { cwd?: string; worktree?: { name: string | null; path: string | null } | null } {
  switch (eventType) {
    case "CwdChanged":
      return str(p.new_cwd) ? { cwd: p.new_cwd as string } : {};
    case "WorktreeCreate": {
      const path = str(p.worktree_path) ?? null;
      return { ...(path ? { cwd: path } : {}), worktree: { name: str(p.name) ?? null, path } };
    }
    case "WorktreeRemove": {
      const path = str(p.worktree_path);
      const back = str(p.cwd);
      if (!path || path !== cwd) return {};
      return back && back !== path ? { cwd: back, worktree: null } : { worktree: null };
    }
    default:
      return {};
  }
}

/**
 * Folds a session's newly stored events (oldest first) into a row patch. The status only
 * moves for an event at least as new as the one that set the current status, so an old
 * event arriving late never drags the state backwards.
 */
export function deriveSession(state: SessionState, events: DerivableEvent[]): Derivation {
  const patch: Record<string, unknown> = {};
  const metadata: Record<string, unknown> = {};
  const messages: DerivedMessage[] = [];
  let { status, statusReason, statusChangedAt, startedAt, lastActivityAt, initialQuery, title, cwd } = state;
  let statusChanged = false;
  let firstCwd: string | null = null;
  let gitRoot: string | null = null;

  const sorted = [...events].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
  for (const event of sorted) {
    const p = event.payload;
    const timeKnown = !isUnknownTime(event.occurredAt);
    if (event.occurredAt > lastActivityAt) lastActivityAt = event.occurredAt;

    const rule = timeKnown ? statusRule(event) : null;
    // Ended by the sweep only because it was quiet: any event after that end says what the
    // session really did (went on, or ended as its agent reports: a SessionEnd `other` or a
    // `session_terminated` names the same status as the sweep's guess, and still replaces its
    // reason and time, so the end stands as one the agent reported).
    const quietEnd = rule !== null && isInactivityEnd(status, statusReason) && event.occurredAt > statusChangedAt;
    if (rule && event.occurredAt >= statusChangedAt && (rule.to !== status || quietEnd)) {
      const allowed =
        quietEnd ||
        (event.source === "transcript"
          ? status === "pending" // transcripts only wake a session nobody has reported on
          : canTransition(status, rule.to, { reopen: rule.reopen ?? false }));
      if (allowed) {
        if (isTerminalStatus(status)) patch.ended_at = null; // reopened
        status = rule.to;
        statusChangedAt = event.occurredAt;
        statusChanged = true;
        statusReason = rule.reason ?? null;
        patch.status_reason = statusReason;
        if (startedAt === null && status !== "pending" && status !== "initializing") startedAt = event.occurredAt;
        if (isTerminalStatus(status)) patch.ended_at = event.occurredAt;
      }
    }

    if (!cwd && event.cwd) {
      cwd = event.cwd;
      patch.cwd = cwd;
    }
    firstCwd ??= event.cwd ?? str(p.cwd) ?? null;
    gitRoot ??= str(p.gitRoot) ?? str(p.git_root) ?? null;
    if (event.machineId) patch.machine_id = event.machineId;
    if (event.agentType) patch.agent_type = event.agentType;

    if (event.source === "hook") {
      if (str(p.transcript_path)) patch.transcript_path = p.transcript_path;
      if (str(p.permission_mode)) patch.permission_mode = p.permission_mode;
      const model = typeof p.model === "string" ? p.model : str((p.model as { id?: unknown } | undefined)?.id);
      if (model) patch.model = model;
      if (event.eventType === "UserPromptSubmit" && !initialQuery && str(p.prompt)) {
        initialQuery = p.prompt as string;
        patch.initial_query = initialQuery;
      }
      if (str(p.session_title)) {
        title = p.session_title as string;
        patch.title = title;
      }
      if (event.eventType === "StopFailure" && str(p.error)) patch.error_message = p.error;
      const place = hookPlaceChange(event.eventType, p, cwd);
      if (place.cwd !== undefined) {
        cwd = place.cwd;
        patch.cwd = cwd;
      }
      if (place.worktree !== undefined) metadata.worktree = place.worktree;
      // Only after the switch: a PreModelSwitch may still be refused by another hook.
      if (event.eventType === "PostModelSwitch" && str(p.to_model)) patch.model = p.to_model;
      const message = hookMessage(event);
      if (message) messages.push(message);
    } else if (event.source === "transcript") {
      const message = transcriptMessage(event);
      if (message) {
        messages.push(message);
        if (message.model) patch.model = message.model;
        if (message.role === "user" && !initialQuery) {
          initialQuery = message.text;
          patch.initial_query = initialQuery;
        }
      }
      if (p.type === "summary" && str(p.summary) && !title) {
        title = p.summary as string;
        patch.title = title;
      }
      const aiTitle = p.type === "ai-title" ? (str(p.title) ?? str(p.aiTitle)) : undefined;
      if (aiTitle) {
        title = aiTitle;
        patch.title = title;
      }
      if (str(p.gitBranch)) metadata.gitBranch = p.gitBranch;
      if (str(p.version)) metadata.claudeCodeVersion = p.version;
    }
  }

  if (statusChanged) {
    patch.status = status;
    patch.status_changed_at = statusChangedAt;
    patch.is_working = status === "active";
  }
  if (startedAt !== state.startedAt) patch.started_at = startedAt;
  if (lastActivityAt > state.lastActivityAt) patch.last_activity_at = lastActivityAt;
  return { patch, metadata, messages, statusChanged, projectPath: gitRoot ?? firstCwd };
}
