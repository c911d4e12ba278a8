/**
 * The sessions list's logic, kept apart from its layout so it is unit-tested: the order
 * (waiting for you first, then pinned, then most recent activity), merging a live change
 * into the loaded pages, and what a row shows.
 */
import { sessionTitle } from "@logbook/sdk";

import type { Session } from "./types";

/** Statuses a person has to act on: these sessions go first. */
export const NEEDS_YOU_STATUSES: ReadonlySet<Session["status"]> = new Set(["waiting_input"]);
/** Statuses of sessions that are over. */
export const ENDED_STATUSES: ReadonlySet<Session["status"]> = new Set([
  "completed",
  "failed",
  "cancelled",
  "terminated",
]);

export function needsYou(session: Pick<Session, "status">): boolean {
  return NEEDS_YOU_STATUSES.has(session.status);
}

/**
 * Waiting for you first, the longest waiting at the top; then pinned, then by last
 * activity (newest first), then id.
 */
export function compareSessions(a: Session, b: Session): number {
  const waiting = Number(needsYou(b)) - Number(needsYou(a));
  if (waiting !== 0) return waiting;
  if (needsYou(a)) {
    const since = Date.parse(a.statusChangedAt) - Date.parse(b.statusChangedAt);
    if (since !== 0) return since;
  }
  const pinned = Number(b.pinned) - Number(a.pinned);
  if (pinned !== 0) return pinned;
  const activity = Date.parse(b.lastActivityAt) - Date.parse(a.lastActivityAt);
  if (activity !== 0) return activity;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function orderSessions(sessions: readonly Session[]): Session[] {
  return [...sessions].sort(compareSessions);
}

/** What the list filters on in the browser (the server filters status, hidden, subagents and text). */
export interface SessionFilters {
  status: "all" | "running" | "waiting" | "ended";
  showHidden: boolean;
  /**
   * Subagents' sessions too; by default only top-level ones and subagents waiting for the
   * person (any other subagent is found from its parent's page).
   */
  showSubagents: boolean;
  search: string;
}

export const DEFAULT_FILTERS: SessionFilters = { status: "all", showHidden: false, showSubagents: false, search: "" };

const FILTER_STATUSES: readonly SessionFilters["status"][] = ["all", "running", "waiting", "ended"];

/**
 * The filters as the list's query string (`q`, `status`, `hidden=1`, `subagents=1`), a default
 * left out: they live in the address so Back, a reload and a shared link show the same list.
 */
export function filtersToSearch(filters: SessionFilters): string {
  const params = new URLSearchParams();
  if (filters.search !== "") params.set("q", filters.search);
  if (filters.status !== "all") params.set("status", filters.status);
  if (filters.showHidden) params.set("hidden", "1");
  if (filters.showSubagents) params.set("subagents", "1");
  return params.toString();
}

/** The filters a query string says; anything it does not say (or says wrong) is the default. */
export function filtersFromSearch(search: string): SessionFilters {
  const params = new URLSearchParams(search);
  const status = FILTER_STATUSES.find((s) => s === params.get("status")) ?? DEFAULT_FILTERS.status;
  return {
    status,
    showHidden: params.get("hidden") === "1",
    showSubagents: params.get("subagents") === "1",
    search: params.get("q") ?? DEFAULT_FILTERS.search,
  };
}

/** Whether a session (say, one that changed live) belongs in the list under `filters`. */
export function matchesFilters(session: Session, filters: SessionFilters): boolean {
  if (session.archivedAt !== null) return false;
  if (!filters.showHidden && session.hidden) return false;
  if (!filters.showSubagents && session.parentSessionId !== null && !needsYou(session)) return false;
  if (filters.status === "waiting" && !needsYou(session)) return false;
  if (filters.status === "ended" && !ENDED_STATUSES.has(session.status)) return false;
  if (filters.status === "running" && ENDED_STATUSES.has(session.status)) return false;
  const text = filters.search.trim().toLowerCase();
  if (text !== "") {
    const haystack = [session.title, session.label, session.initialQuery].join("\n").toLowerCase();
    if (!haystack.includes(text)) return false;
  }
  return true;
}

/**
 * The loaded sessions with `changed` merged in: replaced where it was, added when new and
 * matching the filters, dropped when it no longer matches (hidden, archived, filtered out).
 * The input is not modified.
 */
export function mergeSession(loaded: readonly Session[], changed: Session, filters: SessionFilters): Session[] {
  const rest = loaded.filter((s) => s.id !== changed.id);
  return matchesFilters(changed, filters) ? orderSessions([changed, ...rest]) : rest;
}

/**
 * The words a row is known by: its title, else its label, else its first prompt, else for a
 * subagent seen only through hooks its agent type, else its id.
 */
export function sessionName(
  session: Pick<Session, "title" | "label" | "initialQuery" | "parentSessionId" | "agentType" | "externalId" | "id">,
): string {
  return sessionTitle(session)?.slice(0, 160) ?? session.externalId ?? session.id;
}

export function totalTokens(tokens: Session["tokens"]): number {
  return tokens.inputTokens + tokens.outputTokens + tokens.cacheReadTokens + tokens.cacheCreationTokens;
}

/** The last part of a path (a project's folder from a cwd). */
export function baseName(path: string | null): string | null {
  if (path === null) return null;
  const parts = path.split(/[\\/]/).filter((p) => p !== "");
  return parts.at(-1) ?? path;
}

/**
 * The loaded sessions with every live change applied at once (see `mergeSession`): changed
 * sessions replace their loaded copies, new ones that match are added, ones that stopped
 * matching go; then one sort.
 */
export function applyChanges(
  loaded: readonly Session[],
  changes: ReadonlyMap<string, Session>,
  filters: SessionFilters,
): Session[] {
  if (changes.size === 0) return orderSessions(loaded);
  const kept = loaded.filter((s) => !changes.has(s.id));
  for (const changed of changes.values()) if (matchesFilters(changed, filters)) kept.push(changed);
  return orderSessions(kept);
}

/**
 * What the sessions list shows: the loaded pages and the sessions waiting for the person
 * (the "needs you" query, which the list's filters do not reach, so they are applied here),
 * each once, with the live changes merged in.
 */
export function listedSessions(
  loaded: readonly Session[],
  waiting: readonly Session[],
  changes: ReadonlyMap<string, Session>,
  filters: SessionFilters,
): Session[] {
  const shownWaiting = waiting.filter((s) => matchesFilters(s, filters));
  return applyChanges(uniqueSessions(loaded, shownWaiting), changes, filters);
}

/** Each session once (the first copy wins): the list and the "needs you" query overlap. */
export function uniqueSessions(...lists: ReadonlyArray<readonly Session[]>): Session[] {
  const seen = new Set<string>();
  const out: Session[] = [];
  for (const list of lists) for (const s of list) if (!seen.has(s.id) && (seen.add(s.id), true)) out.push(s);
  return out;
}
