/** How numbers and times read on screen. Pure, so tested without a browser. */

const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const usd = new Intl.NumberFormat("en", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const smallUsd = new Intl.NumberFormat("en", { style: "currency", currency: "USD", maximumFractionDigits: 4 });

const plural = new Intl.PluralRules("en");
const integer = new Intl.NumberFormat("en");

/** A count in words: "1 entry", "2 entries", "1,000 entries". */
export function formatCount(n: number, one: string, other: string): string {
  return `${integer.format(n)} ${plural.select(n) === "one" ? one : other}`;
}

export function formatTokens(n: number): string {
  return n < 1000 ? String(n) : compact.format(n);
}

/** Dollars; under a cent shows more digits so a cheap session is not "$0.00". */
export function formatCost(usdAmount: number, unpriced = 0): string {
  const shown = usdAmount > 0 && usdAmount < 0.01 ? smallUsd.format(usdAmount) : usd.format(usdAmount);
  return unpriced > 0 ? `${shown} + ${unpriced} unpriced` : shown;
}

/** "12 s ago", "5 min ago", "3 h ago", "4 d ago"; a future time (clock skew) reads "just now". */
export function timeAgo(iso: string, now: number): string {
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** "1 h 02 min", "3 min 05 s", "12 s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

// Formatters made once: `Date.prototype.toLocale*String` builds a new one on every call, which
// cost a visible share of each frame when a long list scrolls (rows mount every frame).
const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium" });
const clock = new Intl.DateTimeFormat("en-GB", { hour: "numeric", minute: "numeric", second: "numeric" });

export function formatTime(iso: string | null): string {
  if (iso === null) return "—";
  return dateTime.format(new Date(iso));
}

/** The time of day, "14:03:07" (a timeline entry: its day is the session's). */
export function formatClock(iso: string): string {
  return clock.format(new Date(iso));
}

export const STATUS_LABELS: Record<string, string> = {
  pending: "pending",
  initializing: "starting",
  active: "working",
  idle: "idle",
  waiting_input: "needs you",
  paused: "paused",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
  terminated: "ended",
};

/**
 * Words for the kinds of wait (and the reported end) the server records as a status reason
 * (`packages/core`'s `hookStatusRule`: `<kind>` or `<kind>: <the event's words>`). Other
 * reasons (the inactivity sweep's "no events for 2 h") are words already.
 */
const STATUS_REASON_WORDS: Record<string, string> = {
  permission: "waiting for your permission",
  permission_prompt: "waiting for your permission",
  idle_prompt: "waiting for your input",
  elicitation: "waiting for your answer",
  elicitation_dialog: "waiting for your answer",
  notification: "waiting for you",
  // A SessionEnd hook's end, with Claude Code's reason after the colon (logout, clear, other…).
  session_end: "Claude Code ended it",
};

/** A status reason in words, with the code it was stored with (null: none, it was words). */
export function statusReasonText(reason: string): { text: string; code: string | null } {
  const colon = reason.indexOf(": ");
  const code = colon < 0 ? reason : reason.slice(0, colon);
  const words = Object.hasOwn(STATUS_REASON_WORDS, code) ? STATUS_REASON_WORDS[code] : undefined;
  if (words === undefined) return { text: reason, code: null };
  return { text: colon < 0 ? words : `${words}: ${reason.slice(colon + 2)}`, code };
}

/**
 * Which worker has (or had) a job. A lease means something only while the job runs: a
 * finished job keeps the worker that ran it (its lease gone, `leaseExpiresAt` null), and
 * "w1 until —" read as a lease still held.
 */
export function jobWorkerText(job: {
  status: string;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
}): string {
  if (job.leaseOwner === null) return "—";
  if (job.status === "running" && job.leaseExpiresAt !== null) {
    return `${job.leaseOwner} (lease until ${formatTime(job.leaseExpiresAt)})`;
  }
  return job.status === "running" ? job.leaseOwner : `ran on ${job.leaseOwner}`;
}
