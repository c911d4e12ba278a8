/**
 * The search view's state lives in the address (`/search?q=…&type=…`), so a search can be
 * bookmarked, shared and gone back to: these turn the address into `events.search`'s input
 * and back, and decide when `/` means "go to the search box".
 */
import type { RouterInputs } from "./types";

type SearchInput = RouterInputs["events"]["search"];
/** What the form edits: the text fields as typed (dates as `yyyy-mm-dd`, types comma-separated). */
export interface SearchForm {
  q: string;
  project: string;
  session: string;
  types: string;
  from: string;
  to: string;
}

export const EMPTY_SEARCH: SearchForm = { q: "", project: "", session: "", types: "", from: "", to: "" };

/** Suggestions for the event-type filter (any type may be typed): the ones people search most. */
export const COMMON_EVENT_TYPES = [
  "UserPromptSubmit",
  "PreToolUse",
  "PostToolUse",
  "PostToolUseFailure",
  "Notification",
  "Stop",
  "SubagentStop",
  "user",
  "assistant",
  "summary",
] as const;

export function formFromParams(params: URLSearchParams): SearchForm {
  return {
    q: params.get("q") ?? "",
    project: params.get("project") ?? "",
    session: params.get("session") ?? "",
    types: params.get("types") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
  };
}

/** The address of a search: only the fields that are set, trimmed. */
export function searchHref(form: SearchForm): string {
  const params = new URLSearchParams();
  for (const key of Object.keys(EMPTY_SEARCH) as (keyof SearchForm)[]) {
    const value = form[key].trim();
    if (value !== "") params.set(key, value);
  }
  const query = params.toString();
  return query === "" ? "/search" : `/search?${query}`;
}

export function eventTypesOf(types: string): string[] {
  return [...new Set(types.split(",").map((t) => t.trim()))].filter((t) => t !== "");
}

/**
 * A day typed in the form, as the instant it starts in the reader's time zone. `to` is
 * inclusive in the form (the last day wanted) and exclusive in the API, so it becomes the
 * start of the next day. An unreadable date is passed on as typed, for the server to refuse
 * with its own message (never silently dropped).
 */
export function dayStart(day: string, addDays = 0): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return day;
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + addDays);
  return Number.isNaN(date.getTime()) ? day : date.toISOString();
}

/** `events.search`'s input for a form; null while there is nothing to search for. */
export function searchInput(form: SearchForm, limit: number): Omit<SearchInput, "cursor"> | null {
  const query = form.q.trim();
  if (query === "") return null;
  const types = eventTypesOf(form.types);
  return {
    query,
    limit,
    ...(form.project.trim() === "" ? {} : { projectId: form.project.trim() }),
    ...(form.session.trim() === "" ? {} : { sessionId: form.session.trim() }),
    ...(types.length === 0 ? {} : { eventTypes: types }),
    ...(form.from.trim() === "" ? {} : { from: dayStart(form.from.trim()) }),
    ...(form.to.trim() === "" ? {} : { to: dayStart(form.to.trim(), 1) }),
  };
}

/** Where "jump to event" goes: the event's own session, its timeline scrolled to the event. */
export function eventHref(event: { id: string; sessionId: string }): string {
  return `/sessions/${event.sessionId}?event=${encodeURIComponent(event.id)}`;
}

/**
 * `/` focuses the search box, as on most sites, unless the reader is typing somewhere (or
 * holds a modifier: Ctrl+/ and the like belong to the browser and assistive tools).
 */
export function isSearchShortcut(event: {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  target: { tagName?: string; isContentEditable?: boolean } | null;
}): boolean {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return false;
  const target = event.target;
  if (!target) return true;
  if (target.isContentEditable === true) return false;
  return !["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName ?? "");
}
