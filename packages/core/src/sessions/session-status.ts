import { isTerminalStatus, type SessionStatus } from "@logbook/contracts";

import { AppError } from "../errors.js";

/**
 * The one session lifecycle. Every seed's status words map onto these states
 * (docs/data-model.md); terminal states are left only by an explicit reopen (an agent
 * resuming its own session, e.g. Claude Code's `--resume`).
 */
const TRANSITIONS: Record<SessionStatus, readonly SessionStatus[]> = {
  pending: [
    "initializing",
    "active",
    "idle",
    "waiting_input",
    "paused",
    "completed",
    "failed",
    "cancelled",
    "terminated",
  ],
  initializing: ["active", "idle", "waiting_input", "paused", "completed", "failed", "cancelled", "terminated"],
  active: ["idle", "waiting_input", "paused", "completed", "failed", "cancelled", "terminated"],
  idle: ["active", "waiting_input", "paused", "completed", "failed", "cancelled", "terminated"],
  waiting_input: ["active", "idle", "paused", "completed", "failed", "cancelled", "terminated"],
  paused: ["active", "idle", "waiting_input", "completed", "failed", "cancelled", "terminated"],
  completed: [],
  failed: [],
  cancelled: [],
  terminated: [],
};

/** Terminal states an agent may come back from by resuming (`reopen`). */
const REOPENABLE: readonly SessionStatus[] = ["completed", "terminated"];

/**
 * The reason the inactivity sweep gives a session it ends. That end is a guess from silence,
 * not something the agent reported, so the session's next event overrules it (`deriveSession`).
 */
export function inactivityEndReason(hours: number): string {
  return `no events for ${hours} h`;
}

const INACTIVITY_END = /^no events for \d+ h$/;

/** Whether a session is ended only because the inactivity sweep found it quiet. */
export function isInactivityEnd(status: SessionStatus, reason: string | null): boolean {
  return status === "terminated" && reason !== null && INACTIVITY_END.test(reason);
}

export function allowedTransitions(from: SessionStatus): readonly SessionStatus[] {
  return TRANSITIONS[from];
}

export function canTransition(from: SessionStatus, to: SessionStatus, options: { reopen?: boolean } = {}): boolean {
  if (from === to) return true;
  if (options.reopen && REOPENABLE.includes(from) && !isTerminalStatus(to)) return true;
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: SessionStatus, to: SessionStatus, options: { reopen?: boolean } = {}): void {
  if (!canTransition(from, to, options)) {
    const allowed = TRANSITIONS[from];
    throw new AppError(
      "INVALID_TRANSITION",
      `a session cannot go from ${from} to ${to}` +
        (allowed.length ? ` (from ${from} it can go to: ${allowed.join(", ")})` : ` (${from} is a terminal state)`),
      { details: { from, to, allowed } },
    );
  }
}

/**
 * The seeds' own status words, mapped onto the lifecycle. Used by importers and by
 * `sessions.create`/`transition` callers that speak a seed's dialect.
 */
export const SEED_STATUS_MAP: Readonly<Record<string, SessionStatus>> = {
  // session runner (seed 000), upper or lower case
  initializing: "initializing",
  active: "active",
  idle: "idle",
  waiting_input: "waiting_input",
  terminated: "terminated",
  failed: "failed",
  // mobile backend (seed 001): archived is a flag, not a status
  inactive: "idle",
  // hook monitor (seed 002) and session manager (seed 003)
  completed: "completed",
  error: "failed",
  // session manager's claude_status (seed 003)
  not_started: "pending",
  processing: "active",
  // workflow platform (seed 004)
  pending: "pending",
  in_progress: "active",
  paused: "paused",
  cancelled: "cancelled",
};

export function statusFromSeedWord(word: string): SessionStatus | undefined {
  const key = word.trim().toLowerCase();
  // Own keys only: "constructor" or "__proto__" must not answer with Object.prototype's.
  return Object.hasOwn(SEED_STATUS_MAP, key) ? SEED_STATUS_MAP[key] : undefined;
}
