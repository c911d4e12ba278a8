import { z } from "zod";

/**
 * One lifecycle for every seed's sessions. The transitions between these states are
 * enforced in core (`sessions/session-status.ts`); docs/data-model.md maps each seed's words here.
 */
export const SESSION_STATUSES = [
  "pending",
  "initializing",
  "active",
  "idle",
  "waiting_input",
  "paused",
  "completed",
  "failed",
  "cancelled",
  "terminated",
] as const;
export const sessionStatus = z.enum(SESSION_STATUSES);
export type SessionStatus = z.infer<typeof sessionStatus>;

/** States a session does not leave on its own; entering one sets `endedAt`. */
export const TERMINAL_SESSION_STATUSES = [
  "completed",
  "failed",
  "cancelled",
  "terminated",
] as const satisfies readonly SessionStatus[];
export const OPEN_SESSION_STATUSES = SESSION_STATUSES.filter(
  (s): s is Exclude<SessionStatus, (typeof TERMINAL_SESSION_STATUSES)[number]> =>
    !(TERMINAL_SESSION_STATUSES as readonly string[]).includes(s),
);

export function isTerminalStatus(status: SessionStatus): boolean {
  return (TERMINAL_SESSION_STATUSES as readonly string[]).includes(status);
}

export const EVENT_SOURCES = ["hook", "transcript", "api", "system", "otel"] as const;
export const eventSource = z.enum(EVENT_SOURCES);
export type EventSource = z.infer<typeof eventSource>;

export const EVENT_LEVELS = ["debug", "info", "warning", "error"] as const;
export const eventLevel = z.enum(EVENT_LEVELS);
export type EventLevel = z.infer<typeof eventLevel>;

export const MESSAGE_ROLES = ["user", "assistant", "system"] as const;
export const messageRole = z.enum(MESSAGE_ROLES);
export type MessageRole = z.infer<typeof messageRole>;

export const STEP_STATUSES = ["pending", "running", "completed", "failed", "skipped", "cancelled"] as const;
export const stepStatus = z.enum(STEP_STATUSES);
export type StepStatus = z.infer<typeof stepStatus>;

export const JOB_STATUSES = ["pending", "running", "completed", "failed", "cancelled"] as const;
export const jobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof jobStatus>;

export const API_KEY_SCOPES = ["ingest", "read", "admin"] as const;
export const apiKeyScope = z.enum(API_KEY_SCOPES);
export type ApiKeyScope = z.infer<typeof apiKeyScope>;

/**
 * Event types the seeds and Claude Code define. The set is open: any name of the right
 * shape is accepted and stored; these are listed for documentation and autocompletion.
 */
export const KNOWN_EVENT_TYPES = {
  lifecycle: [
    "session_created",
    "session_started",
    "session_idle",
    "session_resumed",
    "session_terminated",
    "session_failed",
    "command_sent",
    "command_executed",
    "command_failed",
    "output_received",
    "error_received",
    "provider_switched",
    "provider_error",
    "keepalive",
    "resource_warning",
    "timeout_warning",
    "step_started",
    "step_completed",
    "step_failed",
    "status_changed",
  ],
  /** The 33 hook events Claude Code's hooks reference documents (late 2026), in its order. */
  claudeCodeHooks: [
    "SessionStart",
    "Setup",
    "InstructionsLoaded",
    "UserPromptSubmit",
    "UserPromptExpansion",
    "MessageDisplay",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "PostToolBatch",
    "PermissionDenied",
    "Notification",
    "SubagentStart",
    "SubagentStop",
    "TaskCreated",
    "TaskCompleted",
    "Stop",
    "StopFailure",
    "TeammateIdle",
    "ConfigChange",
    "CwdChanged",
    "DirectoryAdded",
    "FileChanged",
    "WorktreeCreate",
    "WorktreeRemove",
    "PreCompact",
    "PostCompact",
    "PreModelSwitch",
    "PostModelSwitch",
    "SessionEnd",
    "Elicitation",
    "ElicitationResult",
  ],
  transcriptLines: [
    "user",
    "assistant",
    "system",
    "summary",
    "progress",
    "file-history-snapshot",
    "queue-operation",
    "attachment",
    "last-prompt",
    "ai-title",
    "permission-mode",
    "mode",
    "result",
  ],
} as const;
