/**
 * The sessions list: live (a change to any session moves it without a reload), sessions that
 * wait for you first, filters and text search, pin/hide/label. Virtualised: only the rows on
 * screen are in the page, so ten thousand sessions scroll like ten.
 */
import { useInfiniteQuery, useMutation, useQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useSubscription } from "@trpc/tanstack-react-query";
import { memo, useCallback, useDeferredValue, useEffect, useId, useMemo, useRef, useState } from "react";
import { Link, useLocation, useSearch } from "wouter";

import { Empty, ErrorState, LaterPageError, Loading, StatusBadge, useProjects } from "../components";
import { formatCost, formatTokens, timeAgo } from "../lib/format";
import { shortPathNames } from "../lib/names";
import {
  baseName,
  filtersFromSearch,
  filtersToSearch,
  listedSessions,
  needsYou,
  sessionName,
  totalTokens,
  type SessionFilters,
} from "../lib/sessions";
import type { RouterInputs, Session } from "../lib/types";
import { useMe } from "../me";
import { useTRPC } from "../trpc";

const PAGE = 500;
const ROW_HEIGHT = 64;
const ENDED: Session["status"][] = ["completed", "failed", "cancelled", "terminated"];
const OPEN: Session["status"][] = ["pending", "initializing", "active", "idle", "waiting_input", "paused"];

type ListInput = Omit<RouterInputs["sessions"]["list"], "cursor">;

function listInput(filters: SessionFilters): ListInput {
  return {
    limit: PAGE,
    ...(filters.showHidden ? {} : { hidden: false }),
    ...(filters.showSubagents ? {} : { parentSessionId: null }),
    ...(filters.search.trim() === "" ? {} : { search: filters.search.trim() }),
    ...(filters.status === "waiting"
      ? { status: ["waiting_input" as const] }
      : filters.status === "ended"
        ? { status: ENDED }
        : filters.status === "running"
          ? { status: OPEN }
          : {}),
  };
}

export function SessionsView() {
  const trpc = useTRPC();
  // The filters live in the query string: Back from a session, a reload or a shared link show
  // the same list. Replaced, not pushed: a keystroke in the search box is no history entry.
  const query = useSearch();
  const [, navigate] = useLocation();
  const filters = useMemo(() => filtersFromSearch(query), [query]);
  const setFilters = useCallback(
    (next: SessionFilters) => {
      const search = filtersToSearch(next);
      navigate(search === "" ? "/" : `/?${search}`, { replace: true });
    },
    [navigate],
  );
  const deferredFilters = useDeferredValue(filters);
  const input = useMemo(() => listInput(deferredFilters), [deferredFilters]);
  const [changes, setChanges] = useState<ReadonlyMap<string, Session>>(new Map());

  const list = useInfiniteQuery(
    trpc.sessions.list.infiniteQueryOptions(input, { getNextPageParam: (last) => last.nextCursor ?? undefined }),
  );
  // Subagents included whatever the box says: a permission prompt inside one waits in its session.
  const waiting = useQuery(trpc.sessions.needsYou.queryOptions({ includeHidden: deferredFilters.showHidden }));

  // A new list (filters changed, or a refetch after a dropped stream) already has the changes.
  useEffect(() => setChanges(new Map()), [list.dataUpdatedAt]);

  const started = useRef(false);
  const live = useSubscription(
    trpc.sessions.onChange.subscriptionOptions(
      {},
      {
        onStarted: () => {
          // Session changes are not resumable: after a reconnect, load the list again.
          if (started.current) void list.refetch();
          started.current = true;
        },
        onData: (session) => setChanges((old) => new Map(old).set(session.id, session)),
      },
    ),
  );

  // Stable, so the memoised rows do not re-render for a new callback.
  const onChanged = useCallback((s: Session) => setChanges((old) => new Map(old).set(s.id, s)), []);

  const sessions = useMemo(() => {
    const loaded = list.data?.pages.flatMap((p) => p.items) ?? [];
    const needing = (waiting.data ?? []).map((w) => w.session);
    return listedSessions(loaded, needing, changes, deferredFilters);
  }, [list.data, waiting.data, changes, deferredFilters]);

  return (
    <section aria-labelledby="sessions-heading">
      <div className="view-head">
        <h1 id="sessions-heading">Sessions</h1>
        <span className={`live live-${live.status}`} role="status">
          {live.status === "pending"
            ? "live"
            : live.status === "connecting"
              ? "connecting…"
              : live.status === "error"
                ? "live updates lost, retrying"
                : "offline"}
        </span>
      </div>
      <Filters value={filters} onChange={setFilters} />
      {list.isPending ? (
        <Loading what="sessions" />
      ) : list.isError && list.data === undefined ? (
        <ErrorState error={list.error} what="sessions" />
      ) : sessions.length === 0 ? (
        <Empty>
          {filtersToSearch(filters) === ""
            ? "No sessions yet. Install the hook (logbook-hook install --user) and start Claude Code: sessions appear here as they happen."
            : "No session matches these filters."}
        </Empty>
      ) : (
        <>
          <SessionRows
            sessions={sessions}
            // After a failed page, the next is asked for by "Try again", not by every render.
            hasMore={list.hasNextPage && !list.isFetchNextPageError}
            loadMore={() => void (list.isFetchingNextPage ? undefined : list.fetchNextPage())}
            onChanged={onChanged}
          />
          <LaterPageError query={list} more="more sessions" shown="the sessions" />
        </>
      )}
    </section>
  );
}

function Filters({ value, onChange }: { value: SessionFilters; onChange: (f: SessionFilters) => void }) {
  const searchId = useId();
  const statusId = useId();
  return (
    <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
      <label htmlFor={searchId}>Search</label>
      <input
        id={searchId}
        type="search"
        placeholder="title, label or first prompt"
        value={value.search}
        onChange={(e) => onChange({ ...value, search: e.target.value })}
      />
      <label htmlFor={statusId}>Status</label>
      <select
        id={statusId}
        value={value.status}
        onChange={(e) => onChange({ ...value, status: e.target.value as SessionFilters["status"] })}
      >
        <option value="all">all</option>
        <option value="waiting">needs you</option>
        <option value="running">open</option>
        <option value="ended">ended</option>
      </select>
      <FilterCheck
        label="show hidden"
        checked={value.showHidden}
        onChange={(showHidden) => onChange({ ...value, showHidden })}
      />
      <FilterCheck
        label="show subagents"
        checked={value.showSubagents}
        onChange={(showSubagents) => onChange({ ...value, showSubagents })}
      />
    </form>
  );
}

/** A labelled checkbox of the filters. */
function FilterCheck(props: { label: string; checked: boolean; onChange: (checked: boolean) => void }) {
  const id = useId();
  return (
    <span className="check">
      <input id={id} type="checkbox" checked={props.checked} onChange={(e) => props.onChange(e.target.checked)} />
      <label htmlFor={id}>{props.label}</label>
    </span>
  );
}

function SessionRows(props: {
  sessions: Session[];
  hasMore: boolean;
  loadMore: () => void;
  onChanged: (s: Session) => void;
}) {
  const { sessions, hasMore, loadMore } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const now = useNow();
  const virtualizer = useVirtualizer({
    count: sessions.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  // A session's project by its name, told apart from same-named ones ("client-a/app",
  // "client-b/app"); a subagent's is its parent's, wherever it worked. A session without a
  // project (or one past the 500 loaded) by its working directory, shortened the same way.
  const { names: projectNames } = useProjects();
  const places = useMemo(() => shortPathNames(sessions.flatMap((s) => (s.cwd === null ? [] : [s.cwd]))), [sessions]);
  const placeOf = (session: Session): string | null =>
    (session.projectId !== null ? projectNames.get(session.projectId) : undefined) ??
    (session.cwd === null ? null : (places.get(session.cwd) ?? baseName(session.cwd)));
  useEffect(() => {
    if (hasMore && lastIndex >= sessions.length - 50) loadMore();
  }, [hasMore, lastIndex, sessions.length, loadMore]);

  return (
    <div className="session-list" role="table" aria-label="Sessions" aria-rowcount={sessions.length + 1}>
      <div className="row head" role="row">
        <span role="columnheader">Status</span>
        <span role="columnheader">Session</span>
        <span role="columnheader" className="wide">
          Project · machine · agent
        </span>
        <span role="columnheader" className="num">
          Tokens
        </span>
        <span role="columnheader" className="num">
          Cost
        </span>
        <span role="columnheader">Last activity</span>
        <span role="columnheader">Actions</span>
      </div>
      <div ref={scroller} className="scroller" data-testid="sessions-scroller">
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }} role="rowgroup">
          {items.map((item) => {
            const session = sessions[item.index];
            if (!session) return null;
            return (
              <SessionRow
                key={session.id}
                session={session}
                index={item.index}
                start={item.start}
                now={now}
                place={placeOf(session)}
                onChanged={props.onChanged}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}

/**
 * One row, re-rendered only when its session, place or clock changes: while the list scrolls,
 * the rows on screen keep their props, so a frame renders only the rows coming into view
 * (every row re-rendered in every frame before, buttons and mutation hooks included).
 */
const SessionRow = memo(function SessionRow(props: {
  session: Session;
  index: number;
  start: number;
  now: number;
  /** The session's project by its distinct name, else its working directory's short name. */
  place: string | null;
  onChanged: (s: Session) => void;
}) {
  const { session, now, onChanged } = props;
  const [editing, setEditing] = useState(false);
  const name = sessionName(session);
  const where = [props.place, session.machineId, session.agentType].filter((v) => v !== null).join(" · ");
  return (
    <div
      className={`row${needsYou(session) ? " needs-you" : ""}${session.pinned ? " pinned" : ""}${editing ? " editing" : ""}`}
      role="row"
      aria-rowindex={props.index + 2}
      data-session-id={session.id}
      style={{
        position: "absolute",
        top: 0,
        left: 0,
        right: 0,
        height: ROW_HEIGHT,
        transform: `translateY(${props.start}px)`,
      }}
    >
      <span role="cell">
        <StatusBadge status={session.status} />
      </span>
      <span role="cell" className="name">
        <Link href={`/sessions/${session.id}`} title={name}>
          {name}
        </Link>
        {session.label && (
          <span className="label-chip" title={session.label}>
            {session.label}
          </span>
        )}
      </span>
      <span role="cell" className="wide muted" title={session.cwd ?? undefined}>
        {where || "—"}
      </span>
      <span role="cell" className="num">
        {formatTokens(totalTokens(session.tokens))}
      </span>
      <span role="cell" className="num">
        {formatCost(session.tokens.costUsd, session.tokens.unpricedMessages)}
      </span>
      <span role="cell" className="muted">
        <time dateTime={session.lastActivityAt}>{timeAgo(session.lastActivityAt, now)}</time>
      </span>
      <span role="cell">
        <RowActions session={session} onChanged={onChanged} editing={editing} setEditing={setEditing} />
      </span>
    </div>
  );
});

/**
 * Pin, hide and label. While the label is edited the row gives its editor the place of the
 * columns after the name (the row's `editing` class), so the field has room at any width.
 */
function RowActions(props: {
  session: Session;
  onChanged: (s: Session) => void;
  editing: boolean;
  setEditing: (editing: boolean) => void;
}) {
  const { session, onChanged, editing, setEditing } = props;
  const trpc = useTRPC();
  const me = useMe();
  const [label, setLabel] = useState(session.label ?? "");
  const update = useMutation(trpc.sessions.update.mutationOptions({ onSuccess: onChanged }));
  // When the editor closes (saved, cancelled, Escape) the focus goes back to the Label button;
  // it would fall to the page's start with the editor gone, losing a keyboard user's place.
  const labelButton = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);
  useEffect(() => {
    if (wasEditing.current && !editing) labelButton.current?.focus();
    wasEditing.current = editing;
  }, [editing]);
  const why = me.canWrite ? undefined : "your key is read-only (no ingest scope)";
  const name = sessionName(session);

  if (editing) {
    return (
      <form
        className="label-form"
        onSubmit={(e) => {
          e.preventDefault();
          update.mutate({ id: session.id, label: label.trim() === "" ? null : label.trim() });
          setEditing(false);
        }}
        onKeyDown={(e) => {
          if (e.key === "Escape") setEditing(false);
        }}
      >
        <input
          aria-label={`Label for ${name}`}
          value={label}
          maxLength={200}
          onChange={(e) => setLabel(e.target.value)}
          autoFocus
        />
        <button type="submit">Save</button>
        <button type="button" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </form>
    );
  }
  return (
    <span className="actions">
      <button
        type="button"
        aria-pressed={session.pinned}
        aria-label={`${session.pinned ? "Unpin" : "Pin"} ${name}`}
        title={why ?? (session.pinned ? "Unpin" : "Pin")}
        disabled={!me.canWrite || update.isPending}
        onClick={() => update.mutate({ id: session.id, pinned: !session.pinned })}
      >
        {session.pinned ? "★" : "☆"}
      </button>
      <button
        type="button"
        aria-label={`${session.hidden ? "Unhide" : "Hide"} ${name}`}
        title={why ?? (session.hidden ? "Unhide" : "Hide")}
        disabled={!me.canWrite || update.isPending}
        onClick={() => update.mutate({ id: session.id, hidden: !session.hidden })}
      >
        {session.hidden ? "Unhide" : "Hide"}
      </button>
      <button
        type="button"
        ref={labelButton}
        aria-label={`Label ${name}`}
        title={why ?? "Label"}
        disabled={!me.canWrite}
        onClick={() => {
          // From the label as it is now: it may have changed (live) since the row was drawn.
          setLabel(session.label ?? "");
          setEditing(true);
        }}
      >
        Label
      </button>
      {update.isError && (
        <span className="inline-error" role="alert">
          {update.error.message}
        </span>
      )}
    </span>
  );
}

/** The current time, ticking every 15 s, so "2 min ago" stays true. */
export function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}
