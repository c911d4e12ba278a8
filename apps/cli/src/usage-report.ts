import { totalTokens, type TokenCounts } from "./format.js";

/**
 * Usage rows for `logbook usage`: token counts by kind and cost, per period, session or
 * project, with totals. Pure, so the roll-ups are tested without a server.
 */

export const USAGE_REPORTS = ["daily", "weekly", "monthly", "session", "project"] as const;
export type UsageReport = (typeof USAGE_REPORTS)[number];

export interface UsageRow extends TokenCounts {
  /** A day (YYYY-MM-DD), a week (its Monday, YYYY-MM-DD), a month (YYYY-MM), a session id or a project id (`none`). */
  key: string;
  /** What a person reads: the period, a session's name, a project's path. */
  label: string;
  sessions: number;
  totalTokens: number;
}

export interface TotalsInput extends TokenCounts {
  key: string;
  sessions: number;
}

const zero = (): TokenCounts => ({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  costUsd: 0,
});

function add(into: TokenCounts, row: TokenCounts): void {
  into.inputTokens += row.inputTokens;
  into.outputTokens += row.outputTokens;
  into.cacheReadTokens += row.cacheReadTokens;
  into.cacheCreationTokens += row.cacheCreationTokens;
  into.costUsd += row.costUsd;
}

/** The Monday (UTC) of a YYYY-MM-DD day's ISO week. */
export function weekOf(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  const sinceMonday = (date.getUTCDay() + 6) % 7;
  date.setUTCDate(date.getUTCDate() - sinceMonday);
  return date.toISOString().slice(0, 10);
}

/** Days rolled up into days, ISO weeks (keyed by their Monday) or months, oldest first. */
export function rollUpDays(days: readonly TotalsInput[], report: "daily" | "weekly" | "monthly"): UsageRow[] {
  const keyOf = report === "daily" ? (d: string) => d : report === "weekly" ? weekOf : (d: string) => d.slice(0, 7);
  const groups = new Map<string, TokenCounts & { sessions: number }>();
  for (const day of days) {
    const key = keyOf(day.key);
    const group = groups.get(key) ?? { ...zero(), sessions: 0 };
    add(group, day);
    group.sessions += day.sessions;
    groups.set(key, group);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, group]) => ({
      key,
      label: report === "weekly" ? `week of ${key}` : key,
      ...group,
      totalTokens: totalTokens(group),
    }));
}

/** Rows keyed by session or project, labelled by `labelOf`, in the order given. */
export function labelRows(rows: readonly TotalsInput[], labelOf: (key: string) => string): UsageRow[] {
  return rows.map((row) => ({
    key: row.key,
    label: labelOf(row.key),
    sessions: row.sessions,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    cacheReadTokens: row.cacheReadTokens,
    cacheCreationTokens: row.cacheCreationTokens,
    costUsd: row.costUsd,
    totalTokens: totalTokens(row),
  }));
}

/** The sum of every row (sessions too: each session is in exactly one row). */
export function totalsOf(rows: readonly UsageRow[]): Omit<UsageRow, "key" | "label"> {
  const sum = { ...zero(), sessions: 0 };
  for (const row of rows) {
    add(sum, row);
    sum.sessions += row.sessions;
  }
  return { ...sum, totalTokens: totalTokens(sum) };
}
