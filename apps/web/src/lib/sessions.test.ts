import { describe, expect, it } from "vitest";

import {
  baseName,
  DEFAULT_FILTERS,
  filtersFromSearch,
  filtersToSearch,
  listedSessions,
  matchesFilters,
  mergeSession,
  orderSessions,
  sessionName,
} from "./sessions";
import type { Session } from "./types";

let n = 0;
function session(over: Partial<Session> = {}): Session {
  n += 1;
  return {
    id: `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`,
    externalId: `ext-${n}`,
    parentSessionId: null,
    manualParentSessionId: null,
    projectId: null,
    status: "active",
    statusReason: null,
    statusChangedAt: "2026-12-01T10:00:00.000Z",
    archivedAt: null,
    sessionType: "claude_code",
    mode: null,
    permissionMode: null,
    title: null,
    label: null,
    initialQuery: null,
    context: null,
    outputBuffer: null,
    cwd: null,
    transcriptPath: null,
    machineId: null,
    agentId: null,
    agentType: null,
    model: null,
    processId: null,
    isWorking: false,
    currentJobId: null,
    lastJobStatus: null,
    pinned: false,
    hidden: false,
    isUserInitiated: true,
    config: {},
    result: null,
    metadata: {},
    errorMessage: null,
    tokens: {
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      costUsd: 0,
      unpricedMessages: 0,
    },
    redactions: 0,
    replacedCharacters: 0,
    createdAt: "2026-12-01T10:00:00.000Z",
    updatedAt: "2026-12-01T10:00:00.000Z",
    startedAt: null,
    lastActivityAt: "2026-12-01T10:00:00.000Z",
    endedAt: null,
    ...over,
  };
}

describe("orderSessions", () => {
  it("puts sessions waiting for you first, then pinned ones, then the most recently active", () => {
    const old = session({ lastActivityAt: "2026-12-01T09:00:00.000Z" });
    const recent = session({ lastActivityAt: "2026-12-01T11:00:00.000Z" });
    const pinned = session({ pinned: true, lastActivityAt: "2026-12-01T08:00:00.000Z" });
    const waiting = session({ status: "waiting_input", lastActivityAt: "2026-12-01T07:00:00.000Z" });
    expect(orderSessions([old, recent, pinned, waiting]).map((s) => s.id)).toEqual([
      waiting.id,
      pinned.id,
      recent.id,
      old.id,
    ]);
  });

  it("puts the session that has waited longest first, whatever its last activity", () => {
    const waitingLong = session({
      status: "waiting_input",
      statusChangedAt: "2026-12-01T06:00:00.000Z",
      lastActivityAt: "2026-12-01T11:30:00.000Z", // a late event that did not end the wait
    });
    const waitingShort = session({
      status: "waiting_input",
      statusChangedAt: "2026-12-01T10:00:00.000Z",
      lastActivityAt: "2026-12-01T10:00:00.000Z",
    });
    expect(orderSessions([waitingShort, waitingLong]).map((s) => s.id)).toEqual([waitingLong.id, waitingShort.id]);
  });
});

describe("mergeSession", () => {
  it("moves a session with new activity to the top without reloading", () => {
    const a = session({ lastActivityAt: "2026-12-01T11:00:00.000Z" });
    const b = session({ lastActivityAt: "2026-12-01T10:00:00.000Z" });
    const bMoved = { ...b, lastActivityAt: "2026-12-01T12:00:00.000Z" };
    const merged = mergeSession([a, b], bMoved, DEFAULT_FILTERS);
    expect(merged.map((s) => s.id)).toEqual([b.id, a.id]);
    expect(merged[0]).toBe(bMoved);
  });

  it("adds a new session and drops one that became hidden or no longer matches", () => {
    const a = session();
    const fresh = session({ lastActivityAt: "2026-12-01T12:00:00.000Z" });
    expect(mergeSession([a], fresh, DEFAULT_FILTERS).map((s) => s.id)).toEqual([fresh.id, a.id]);
    expect(mergeSession([a, fresh], { ...fresh, hidden: true }, DEFAULT_FILTERS).map((s) => s.id)).toEqual([a.id]);
    const ended = { ...a, status: "completed" as const };
    expect(mergeSession([a], ended, { ...DEFAULT_FILTERS, status: "running" })).toEqual([]);
    expect(mergeSession([a], ended, { ...DEFAULT_FILTERS, status: "ended" })).toEqual([ended]);
  });
});

describe("listedSessions", () => {
  it("applies the filters to the sessions waiting for the person too, and shows each session once", () => {
    const working = session({ title: "list the cron jobs" });
    const waiting = session({ title: "Fix month-end totals", status: "waiting_input" });
    // The list's page is the server's answer to the filters; the waiting sessions are not.
    expect(listedSessions([working, waiting], [waiting], new Map(), DEFAULT_FILTERS).map((s) => s.id)).toEqual([
      waiting.id,
      working.id,
    ]);
    expect(listedSessions([], [waiting], new Map(), { ...DEFAULT_FILTERS, search: "zzzz" })).toEqual([]);
    expect(listedSessions([working], [waiting], new Map(), { ...DEFAULT_FILTERS, search: "cron" })).toEqual([working]);
    expect(listedSessions([], [waiting], new Map(), { ...DEFAULT_FILTERS, status: "ended" })).toEqual([]);
  });
});

describe("matchesFilters", () => {
  it("searches title, label and first prompt, case-insensitively; archived sessions never show", () => {
    const s = session({ title: "Fix the Flaky test", label: "ci" });
    expect(matchesFilters(s, { ...DEFAULT_FILTERS, search: "flaky" })).toBe(true);
    expect(matchesFilters(s, { ...DEFAULT_FILTERS, search: "CI" })).toBe(true);
    expect(matchesFilters(s, { ...DEFAULT_FILTERS, search: "deploy" })).toBe(false);
    expect(matchesFilters({ ...s, archivedAt: "2026-12-01T10:00:00.000Z" }, DEFAULT_FILTERS)).toBe(false);
    expect(matchesFilters({ ...s, hidden: true }, { ...DEFAULT_FILTERS, showHidden: true })).toBe(true);
  });

  it("leaves subagents' sessions out unless asked for or waiting for the person, as the list does", () => {
    const parent = session();
    const child = session({ parentSessionId: parent.id, agentType: "Explore" });
    expect(matchesFilters(parent, DEFAULT_FILTERS)).toBe(true);
    expect(matchesFilters(child, DEFAULT_FILTERS)).toBe(false);
    expect(matchesFilters(child, { ...DEFAULT_FILTERS, showSubagents: true })).toBe(true);
    // A subagent changing live does not join a list of top-level sessions...
    expect(mergeSession([parent], child, DEFAULT_FILTERS)).toEqual([parent]);
    // ...unless it waits for the person (a permission prompt inside it): that always shows.
    const waiting = { ...child, status: "waiting_input" as const };
    expect(matchesFilters(waiting, DEFAULT_FILTERS)).toBe(true);
    expect(mergeSession([parent], waiting, DEFAULT_FILTERS).map((s) => s.id)).toEqual([waiting.id, parent.id]);
  });
});

describe("sessionName and baseName", () => {
  it("names a session by title, label, first prompt (a slash command by its name), then external id", () => {
    expect(sessionName(session({ title: "T", label: "L" }))).toBe("T");
    expect(sessionName(session({ label: "L", initialQuery: "Q" }))).toBe("L");
    expect(sessionName(session({ initialQuery: "  first line\nsecond" }))).toBe("first line second");
    const init = "<command-message>init is analyzing</command-message>\n<command-name>/init</command-name>";
    expect(sessionName(session({ initialQuery: init }))).toBe("/init");
    expect(sessionName(session({ externalId: "abc" }))).toBe("abc");
    expect(sessionName(session({ externalId: "abc:agent:a1", parentSessionId: "p", agentType: "Explore" }))).toBe(
      "(Explore subagent)",
    );
    expect(baseName("/home/me/code/logbook/")).toBe("logbook");
    expect(baseName(null)).toBeNull();
  });
});

describe("filters in the address", () => {
  it("leaves the defaults out, so the plain list has a plain address", () => {
    expect(filtersToSearch(DEFAULT_FILTERS)).toBe("");
    expect(filtersFromSearch("")).toEqual(DEFAULT_FILTERS);
  });

  it("round-trips every filter, text with spaces and symbols included", () => {
    const filters = { status: "ended", showHidden: true, showSubagents: true, search: "fix & ship?" } as const;
    const search = filtersToSearch(filters);
    expect(search).toBe("q=fix+%26+ship%3F&status=ended&hidden=1&subagents=1");
    expect(filtersFromSearch(search)).toEqual(filters);
    expect(filtersFromSearch(`?${search}`)).toEqual(filters);
  });

  it("takes an unknown status or flag value as the default", () => {
    expect(filtersFromSearch("status=bogus&hidden=yes&subagents=0")).toEqual(DEFAULT_FILTERS);
  });
});
