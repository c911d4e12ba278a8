/**
 * One session: its header, the subagent tree with rolled-up tokens and cost, and tabs for the
 * timeline (virtualised; tool calls with their results, collapsed, their payloads fetched when
 * opened; errors marked; a live tail while the session runs), messages, files, steps and
 * artifacts.
 */
import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useSubscription } from "@trpc/tanstack-react-query";
import { memo, useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { changedOnWayIn } from "@logbook/sdk";
import { Link, Redirect, useSearch } from "wouter";

import { Empty, ErrorState, LaterPageError, Loading, StatusBadge } from "../components";
import {
  formatClock,
  formatCost,
  formatCount,
  formatDuration,
  formatTime,
  formatTokens,
  statusReasonText,
} from "../lib/format";
import { ENDED_STATUSES, sessionName, totalTokens } from "../lib/sessions";
import { EMPTY_SEARCH, searchHref } from "../lib/search";
import { buildTimeline, entryIndexOf, mergeEvents, toolEventLabel, type TimelineEntry } from "../lib/timeline";
import { buildTree, changeTouchesTree, type TreeNode } from "../lib/tree";
import type { EventSummary, RouterInputs, Session } from "../lib/types";
import { errorStatus, useTRPC } from "../trpc";

const TABS = ["timeline", "messages", "files", "steps", "artifacts"] as const;
type Tab = (typeof TABS)[number];

/** At most one reload of the subagent tree per this long while its sessions change. */
const TREE_RELOAD_MS = 1_000;

/**
 * Keeps the header and the subagent tree live: the session's own changes replace it in
 * place (status, last activity, tokens), and a change to a member of its tree, or a new
 * child, loads the tree again (at most once a TREE_RELOAD_MS). Session changes are not
 * resumable, so a reconnect loads both again.
 */
function useLiveSession(id: string): void {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const reload = useRef<ReturnType<typeof setTimeout> | null>(null);
  const started = useRef(false);
  useEffect(
    () => () => {
      if (reload.current) clearTimeout(reload.current);
    },
    [],
  );
  const treeKey = trpc.sessions.tree.queryKey({ id });
  useSubscription(
    trpc.sessions.onChange.subscriptionOptions(
      {},
      {
        onStarted: () => {
          if (started.current) {
            void queryClient.invalidateQueries({ queryKey: trpc.sessions.get.queryKey({ id }) });
            void queryClient.invalidateQueries({ queryKey: treeKey });
          }
          started.current = true;
        },
        onData: (changed) => {
          if (changed.id === id) queryClient.setQueryData(trpc.sessions.get.queryKey({ id }), changed);
          const tree = queryClient.getQueryData(treeKey);
          if (!tree || !changeTouchesTree(tree, changed) || reload.current) return;
          reload.current = setTimeout(() => {
            reload.current = null;
            void queryClient.invalidateQueries({ queryKey: treeKey });
          }, TREE_RELOAD_MS);
        },
      },
    ),
  );
}

/** Logbook's session ids: 32 hex digits as 8-4-4-4-12. */
const LOGBOOK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `/sessions/<id>` takes Logbook's id or the agent's own (Claude Code's session id, as
 * `logbook show` does): an id that names no Logbook session is looked up as the agent's, and
 * the address becomes Logbook's, so a link made from a terminal opens the session.
 */
export default function SessionRoute({ id }: { id: string }) {
  const trpc = useTRPC();
  const search = useSearch();
  const maybeLogbookId = LOGBOOK_ID.test(id);
  const byId = useQuery(trpc.sessions.get.queryOptions({ id }, { enabled: maybeLogbookId }));
  const asAgentId = !maybeLogbookId || errorStatus(byId.error) === 404;
  const byAgentId = useQuery(trpc.sessions.get.queryOptions({ externalId: id }, { enabled: asAgentId }));
  if (!asAgentId) {
    if (byId.isError) return <ErrorState error={byId.error} what="the session" />;
    return byId.isSuccess ? <SessionView id={id} /> : <Loading what="the session" />;
  }
  if (byAgentId.isSuccess) {
    return <Redirect to={`/sessions/${byAgentId.data.id}${search === "" ? "" : `?${search}`}`} replace />;
  }
  // Neither: the first way's answer says it (the id was most likely meant as Logbook's).
  if (byAgentId.isError) return <ErrorState error={byId.error ?? byAgentId.error} what="the session" />;
  return <Loading what="the session" />;
}

function SessionView({ id }: { id: string }) {
  const trpc = useTRPC();
  const session = useQuery(trpc.sessions.get.queryOptions({ id }));
  useLiveSession(id);
  // Started here, with the session's own query rather than after it: the timeline is the page.
  useInfiniteQuery(timelineQuery(trpc, id));
  const [tab, setTab] = useState<Tab>("timeline");
  const tabsId = useId();
  // `?event=<id>` (a search result's "jump to event"): the timeline scrolls to it and marks it.
  const target = new URLSearchParams(useSearch()).get("event") ?? undefined;

  if (session.isPending) return <Loading what="the session" />;
  if (session.isError) return <ErrorState error={session.error} what="the session" />;
  const s = session.data;

  const onTabKey = (event: KeyboardEvent) => {
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (step === 0) return;
    const next = TABS[(TABS.indexOf(tab) + step + TABS.length) % TABS.length] ?? "timeline";
    setTab(next);
    document.getElementById(`${tabsId}-${next}`)?.focus();
  };

  return (
    <article aria-labelledby="session-title">
      <Breadcrumbs id={s.id} />
      <SessionHeader session={s} />
      <SessionActions id={s.id} />
      <SubagentTree id={s.id} />
      <div role="tablist" aria-label="Session records" className="tabs" onKeyDown={onTabKey}>
        {TABS.map((t) => (
          <button
            key={t}
            id={`${tabsId}-${t}`}
            role="tab"
            type="button"
            aria-selected={tab === t}
            aria-controls={`${tabsId}-panel`}
            tabIndex={tab === t ? 0 : -1}
            onClick={() => setTab(t)}
          >
            {t}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${tabsId}-panel`} aria-labelledby={`${tabsId}-${tab}`}>
        {tab === "timeline" ? (
          <Timeline session={s} target={target} />
        ) : tab === "messages" ? (
          <Messages sessionId={s.id} />
        ) : tab === "files" ? (
          <Files sessionId={s.id} />
        ) : tab === "steps" ? (
          <Steps sessionId={s.id} />
        ) : (
          <Artifacts sessionId={s.id} />
        )}
      </div>
    </article>
  );
}

/** Why the session is in its status, in words; the code it was stored with is the title. */
function StatusReason({ reason, since }: { reason: string; since: string }) {
  const { text, code } = statusReasonText(reason);
  return (
    <span className="muted" data-testid="status-reason" title={code ?? undefined}>
      {" "}
      {text} (since {formatTime(since)})
    </span>
  );
}

/**
 * Sessions / the root / … / the parent: a subagent's page leads back up its tree (the tree's
 * ancestors, the same query as the subagent tree below, so no extra request). Until the tree
 * answers, or if it fails (the tree below says so), only the list.
 */
function Breadcrumbs({ id }: { id: string }) {
  const trpc = useTRPC();
  const ancestors = useQuery(trpc.sessions.tree.queryOptions({ id })).data?.ancestors ?? [];
  return (
    <nav aria-label="Breadcrumb" className="crumbs">
      <Link href="/">Sessions</Link> /{" "}
      {ancestors.map((ancestor, i) => (
        <span key={ancestor.id}>
          <Link
            href={`/sessions/${ancestor.id}`}
            title={i === ancestors.length - 1 ? "Parent session" : undefined}
            data-testid={i === ancestors.length - 1 ? "parent-session" : undefined}
          >
            {ancestor.agentType && ancestor.parentSessionId !== null ? ancestor.agentType : sessionName(ancestor)}
          </Link>{" "}
          /{" "}
        </span>
      ))}
    </nav>
  );
}

function SessionHeader({ session: s }: { session: Session }) {
  const branch = typeof s.metadata.gitBranch === "string" ? s.metadata.gitBranch : null;
  const ended = s.endedAt ?? null;
  const started = s.startedAt ?? s.createdAt;
  const changed = changedOnWayIn(s);
  const trpc = useTRPC();
  const project = useQuery(
    trpc.projects.get.queryOptions({ id: s.projectId ?? "" }, { enabled: s.projectId !== null }),
  ).data;
  return (
    <header className="session-head">
      <h1 id="session-title">{sessionName(s)}</h1>
      <dl>
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={s.status} />
            {s.statusReason && <StatusReason reason={s.statusReason} since={s.statusChangedAt} />}
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{formatTime(started)}</dd>
        </div>
        <div>
          <dt>{ended ? "Ended" : "Last activity"}</dt>
          <dd>
            {formatTime(ended ?? s.lastActivityAt)} (
            {formatDuration(Date.parse(ended ?? s.lastActivityAt) - Date.parse(started))})
          </dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd>{s.model ?? "—"}</dd>
        </div>
        <div>
          <dt>Project</dt>
          <dd title={project?.path}>{project?.name ?? "—"}</dd>
        </div>
        {/* Where the agent worked, when that is not the project's own folder (a subfolder, or a
            subagent's folder inside its parent's project). */}
        {s.cwd !== null && s.cwd !== project?.path && (
          <div>
            <dt>Directory</dt>
            <dd className="mono">{s.cwd}</dd>
          </div>
        )}
        {branch && (
          <div>
            <dt>Git branch</dt>
            <dd className="mono">{branch}</dd>
          </div>
        )}
        <div>
          <dt>Tokens</dt>
          <dd>{formatTokens(totalTokens(s.tokens))}</dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd>{formatCost(s.tokens.costUsd, s.tokens.unpricedMessages)}</dd>
        </div>
        {changed && (
          <div>
            <dt>Changed on the way in</dt>
            <dd data-testid="changed-on-way-in">{changed}</dd>
          </div>
        )}
      </dl>
      {s.errorMessage && (
        <p className="state error" role="alert">
          {s.errorMessage}
        </p>
      )}
    </header>
  );
}

function SubagentTree({ id }: { id: string }) {
  const trpc = useTRPC();
  const tree = useQuery(trpc.sessions.tree.queryOptions({ id }));
  const root = useMemo(() => (tree.data ? buildTree(tree.data) : null), [tree.data]);
  if (tree.isPending) return <Loading what="subagents" />;
  if (tree.isError) return <ErrorState error={tree.error} what="subagents" />;
  if (!root || root.children.length === 0) return null;
  return (
    <section aria-labelledby="subagents-heading" className="subagents">
      <h2 id="subagents-heading">
        Subagents{" "}
        <span className="muted">
          (with this session: {formatTokens(root.tokens)} tokens, {formatCost(root.costUsd)})
        </span>
      </h2>
      <ul className="tree" data-testid="subagent-tree">
        {root.children.map((child) => (
          <TreeItem key={child.session.id} node={child} />
        ))}
      </ul>
    </section>
  );
}

function TreeItem({ node }: { node: TreeNode }) {
  return (
    <li>
      <Link href={`/sessions/${node.session.id}`}>{node.session.agentType ?? sessionName(node.session)}</Link>{" "}
      <StatusBadge status={node.session.status} />{" "}
      <span className="muted">
        {formatTokens(node.tokens)} tokens · {formatCost(node.costUsd)}
      </span>
      {node.children.length > 0 && (
        <ul>
          {node.children.map((child) => (
            <TreeItem key={child.session.id} node={child} />
          ))}
        </ul>
      )}
    </li>
  );
}

const EVENT_PAGE = 300;

type ExportFormat = RouterInputs["sessions"]["export"]["format"];
/** Every format `sessions.export` takes (the type makes a new one a compile error here). */
const EXPORT_LABELS: Record<ExportFormat, string> = {
  md: "Markdown",
  json: "JSON",
  jsonl: "JSONL transcript",
};

/**
 * Export buttons (the session with its subagents, as the server writes it) and a search
 * within the session. The file comes from the server's download route with the dashboard's
 * cookie (no link that carries credentials) and is saved under the server's file name;
 * nothing is kept after the download.
 */
function SessionActions({ id }: { id: string }) {
  const [busy, setBusy] = useState<ExportFormat | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const download = async (format: ExportFormat) => {
    setBusy(format);
    setFailure(null);
    try {
      const response = await fetch(`/export/sessions/${encodeURIComponent(id)}?format=${format}`, {
        credentials: "same-origin",
      });
      if (!response.ok) {
        const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new Error(body?.error?.message ?? `the export failed (${response.status})`);
      }
      const fileName = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1];
      const url = URL.createObjectURL(await response.blob());
      const anchor = document.createElement("a");
      anchor.href = url;
      anchor.download = fileName ?? `${id}.${format}`;
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
      // The download has the blob by now; the address is only freed.
      setTimeout(() => URL.revokeObjectURL(url), 1_000);
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="session-actions">
      <span className="muted">Export</span>
      {(Object.keys(EXPORT_LABELS) as ExportFormat[]).map((format) => (
        <button
          key={format}
          type="button"
          disabled={busy !== null}
          aria-label={`Export as ${EXPORT_LABELS[format]}`}
          onClick={() => void download(format)}
        >
          {busy === format ? "Exporting…" : EXPORT_LABELS[format]}
        </button>
      ))}
      <Link href={searchHref({ ...EMPTY_SEARCH, session: id })}>Search this session</Link>
      {failure !== null && (
        <span className="inline-error" role="alert">
          Export failed: {failure}
        </span>
      )}
    </div>
  );
}

function timelineQuery(trpc: ReturnType<typeof useTRPC>, sessionId: string) {
  return trpc.events.listSummariesForSession.infiniteQueryOptions(
    { sessionId, limit: EVENT_PAGE },
    { getNextPageParam: (last) => last.nextCursor ?? undefined },
  );
}
const ENTRY_HEIGHT = 44;

function Timeline({ session, target }: { session: Session; target: string | undefined }) {
  const trpc = useTRPC();
  const pages = useInfiniteQuery(timelineQuery(trpc, session.id));
  const [tail, setTail] = useState<EventSummary[]>([]);
  const running = !ENDED_STATUSES.has(session.status);
  // Resumes after a dropped connection from the last event id (tracked events).
  const live = useSubscription(
    trpc.events.onEvent.subscriptionOptions(
      { sessionId: session.id },
      {
        onData: (tracked) => {
          const { payload: _payload, ...summary } = tracked.data;
          setTail((old) => mergeEvents(old, [summary]));
        },
      },
    ),
  );

  const events = useMemo(() => {
    const loaded = pages.data?.pages.flatMap((p) => p.items) ?? [];
    return mergeEvents(loaded, tail);
  }, [pages.data, tail]);
  const entries = useMemo(() => buildTimeline(events), [events]);
  const targetIndex = target === undefined ? -1 : entryIndexOf(entries, target);
  // Jumping to an event: its position is only known once the page holding it is loaded, so
  // pages are fetched by cursor, in order, until it is among the entries (or none is left).
  const seeking = target !== undefined && targetIndex < 0 && pages.hasNextPage && !pages.isError;
  const { fetchNextPage, isFetching } = pages;
  useEffect(() => {
    if (seeking && !isFetching) void fetchNextPage();
  }, [seeking, isFetching, fetchNextPage, entries.length]);

  if (pages.isPending) return <Loading what="the timeline" />;
  if (pages.isError && pages.data === undefined) return <ErrorState error={pages.error} what="the timeline" />;
  return (
    <>
      <p className="live muted" role="status" data-live-status={live.status} data-entries={entries.length}>
        {live.status === "pending"
          ? `${formatCount(entries.length, "entry", "entries")} · live`
          : live.status === "error"
            ? "live tail lost, reconnecting"
            : "connecting the live tail…"}
      </p>
      {target !== undefined &&
        (seeking ? (
          <p className="state" role="status">
            Finding the event ({formatCount(entries.length, "entry", "entries")} loaded)…
          </p>
        ) : targetIndex < 0 ? (
          <p className="state error" role="alert">
            The event you followed is not in this session&apos;s timeline (it may have been purged).
          </p>
        ) : null)}
      {entries.length === 0 ? (
        <Empty>No events yet{running ? ": they appear here as they arrive." : "."}</Empty>
      ) : (
        <TimelineList
          entries={entries}
          live={running && target === undefined}
          targetIndex={seeking ? -1 : targetIndex}
          // After a failed page, the next is asked for by "Try again", not by every render.
          hasMore={pages.hasNextPage && !pages.isFetchNextPageError}
          loadMore={() => void (pages.isFetchingNextPage ? undefined : pages.fetchNextPage())}
        />
      )}
      <LaterPageError query={pages} more="more of the timeline" shown="the timeline" />
    </>
  );
}

function TimelineList(props: {
  entries: TimelineEntry[];
  live: boolean;
  /** The entry a search result jumped to (-1: none): scrolled to the middle and marked. */
  targetIndex: number;
  hasMore: boolean;
  loadMore: () => void;
}) {
  const { entries, hasMore, loadMore, targetIndex } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = useCallback(
    (id: string) =>
      setOpen((old) => {
        const next = new Set(old);
        if (!next.delete(id)) next.add(id);
        return next;
      }),
    [],
  );
  // Live tail: a reader at the bottom stays there as entries arrive. A running session opens
  // at its end (the tail); an ended one, or one opened at an event, at its start.
  const atBottom = useRef(props.live);
  const virtualizer = useVirtualizer({
    count: entries.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ENTRY_HEIGHT,
    // A closed entry is exactly ENTRY_HEIGHT (its style says so), so only open ones are
    // measured; an entry's key changes as it opens and closes, so a closed one never keeps the
    // size it had open. Measuring every row as it mounted cost a re-layout and a re-render of
    // the list in most frames of a scroll (the rows were 1 px taller than the estimate).
    getItemKey: useCallback(
      (index: number) => {
        const id = entries[index]?.id ?? String(index);
        return open.has(id) ? `${id} open` : id;
      },
      [entries, open],
    ),
    overscan: 10,
    // Where the reader is, from the offsets the virtualiser already has: reading the scroller's
    // scrollHeight in a scroll handler forced a layout in every frame.
    onChange: (instance) => {
      const offset = instance.scrollOffset;
      const el = scroller.current;
      if (offset === null || !el || !instance.scrollRect) return;
      const following = instance.getTotalSize() - offset - instance.scrollRect.height < 80;
      atBottom.current = following;
      if (el.dataset.following !== String(following)) el.dataset.following = String(following);
    },
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (hasMore && lastIndex >= entries.length - 100) loadMore();
  }, [hasMore, lastIndex, entries.length, loadMore]);

  useEffect(() => {
    if (atBottom.current) virtualizer.scrollToIndex(entries.length - 1, { align: "end" });
  }, [entries.length, virtualizer]);
  useEffect(() => {
    if (targetIndex < 0) return;
    atBottom.current = false;
    virtualizer.scrollToIndex(targetIndex, { align: "center" });
  }, [targetIndex, virtualizer]);
  // Centred in the list is not yet on screen: the list itself can sit below the window's fold
  // (under the header and the subagent tree). Once the target's row is rendered, the window is
  // scrolled to it too and it takes the focus (a keyboard or screen-reader user lands there).
  // Once per target: the row unmounts and mounts again as the reader scrolls the list, and
  // must not pull them back.
  const revealed = useRef(-1);
  useEffect(() => {
    if (targetIndex < 0 || revealed.current === targetIndex) return;
    const row = scroller.current?.querySelector<HTMLElement>(`[data-index="${targetIndex}"]`);
    if (!row) return;
    revealed.current = targetIndex;
    row.scrollIntoView({ block: "nearest" });
    row.focus({ preventScroll: true });
  }, [targetIndex, items]);

  return (
    <div ref={scroller} className="scroller timeline" data-testid="timeline">
      <ol style={{ height: virtualizer.getTotalSize(), position: "relative" }} aria-label="Timeline">
        {items.map((item) => {
          const entry = entries[item.index];
          if (!entry) return null;
          const isOpen = open.has(entry.id);
          return (
            <TimelineRow
              key={entry.id}
              entry={entry}
              index={item.index}
              start={item.start}
              open={isOpen}
              target={item.index === targetIndex}
              measure={isOpen ? virtualizer.measureElement : undefined}
              toggle={toggle}
            />
          );
        })}
      </ol>
    </div>
  );
}

/**
 * One entry, re-rendered only when what it shows changes: while the list scrolls, the rows
 * already on screen keep their props (their place in the list does not move), so a frame
 * renders only the rows that come into view.
 */
const TimelineRow = memo(function TimelineRow(props: {
  entry: TimelineEntry;
  index: number;
  start: number;
  open: boolean;
  target: boolean;
  measure: ((el: HTMLLIElement | null) => void) | undefined;
  toggle: (id: string) => void;
}) {
  const { entry, open, target, toggle } = props;
  const e = entry.event;
  const title = entry.kind === "tool" ? `${e.toolName ?? "tool"}` : e.eventType;
  const about = toolEventLabel(entry);
  return (
    <li
      ref={props.measure}
      data-index={props.index}
      data-event-id={entry.id}
      aria-current={target ? "true" : undefined}
      // Focusable by script only, for the jump to it (the button inside is the tab stop).
      tabIndex={target ? -1 : undefined}
      className={`entry kind-${entry.kind}${entry.failed ? " failed" : ""}${target ? " target" : ""}`}
      style={{
        position: "absolute",
        top: 0,
        left: 0,
        right: 0,
        height: open ? undefined : ENTRY_HEIGHT,
        transform: `translateY(${props.start}px)`,
      }}
    >
      <button type="button" className="entry-head" aria-expanded={open} onClick={() => toggle(entry.id)}>
        <time dateTime={e.occurredAt}>{formatClock(e.occurredAt)}</time>
        <span className="badge">{title}</span>
        {about && <span className="badge">{about}</span>}
        {entry.failed && <span className="badge status-failed">error</span>}
        <span className="summary">{e.message ?? entry.result?.message ?? ""}</span>
      </button>
      {open && (
        <div className="payloads">
          <Payload id={e.id} label={entry.kind === "tool" ? "call" : "event"} />
          {entry.result && <Payload id={entry.result.id} label="result" />}
        </div>
      )}
    </li>
  );
});

/** A payload is fetched only when its entry is opened (a timeline page carries none). */
function Payload({ id, label }: { id: string; label: string }) {
  const trpc = useTRPC();
  const event = useQuery(trpc.events.get.queryOptions({ id }, { staleTime: Infinity }));
  if (event.isPending) return <Loading what={`the ${label}`} />;
  if (event.isError) return <ErrorState error={event.error} what={`the ${label}`} />;
  const text = JSON.stringify(event.data.payload, null, 2);
  const changed = changedOnWayIn(event.data);
  return (
    <figure>
      <figcaption>
        {label}
        {changed && <span className="muted"> ({changed})</span>}
      </figcaption>
      <pre>
        {text.length > 200_000 ? `${text.slice(0, 200_000)}\n… (${text.length - 200_000} more characters)` : text}
      </pre>
    </figure>
  );
}

function Messages({ sessionId }: { sessionId: string }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.messages.list.queryOptions({ sessionId, limit: 500 }));
  if (q.isPending) return <Loading what="messages" />;
  if (q.isError) return <ErrorState error={q.error} what="messages" />;
  if (q.data.items.length === 0) return <Empty>No messages.</Empty>;
  return (
    <ol className="messages">
      {q.data.items.map((m) => (
        <li key={m.id} className={`message role-${m.role}`}>
          <span className="badge">{m.role}</span>
          {m.text.trim() === "" ? (
            // An assistant turn that only called tools (or only thought) has no text; an empty
            // row read as a message lost. Its output tokens say it did something.
            <p className="muted no-text">
              No text: tool calls or thinking only ({formatTokens(m.outputTokens)} output tokens)
            </p>
          ) : (
            <p>{m.text}</p>
          )}
        </li>
      ))}
    </ol>
  );
}

function Files({ sessionId }: { sessionId: string }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.files.list.queryOptions({ sessionId, limit: 500 }));
  if (q.isPending) return <Loading what="files" />;
  if (q.isError) return <ErrorState error={q.error} what="files" />;
  if (q.data.items.length === 0) return <Empty>No files tracked.</Empty>;
  return (
    <div className="table-scroll">
      <table>
        <thead>
          <tr>
            <th scope="col">Path</th>
            <th scope="col" className="num">
              Size
            </th>
          </tr>
        </thead>
        <tbody>
          {q.data.items.map((f) => (
            <tr key={f.id}>
              <td className="mono">{f.path}</td>
              <td className="num">{f.sizeBytes ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Steps({ sessionId }: { sessionId: string }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.steps.list.queryOptions({ sessionId }));
  if (q.isPending) return <Loading what="steps" />;
  if (q.isError) return <ErrorState error={q.error} what="steps" />;
  if (q.data.length === 0) return <Empty>No steps.</Empty>;
  return (
    <ol className="plain">
      {q.data.map((step) => (
        <li key={step.id}>
          {step.sequence}. {step.name} <StatusBadge status={step.status} />
        </li>
      ))}
    </ol>
  );
}

function Artifacts({ sessionId }: { sessionId: string }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.artifacts.list.queryOptions({ sessionId, limit: 500 }));
  if (q.isPending) return <Loading what="artifacts" />;
  if (q.isError) return <ErrorState error={q.error} what="artifacts" />;
  if (q.data.items.length === 0) return <Empty>No artifacts.</Empty>;
  return (
    <div className="table-scroll">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Path</th>
          </tr>
        </thead>
        <tbody>
          {q.data.items.map((a) => (
            <tr key={a.id}>
              <td>{a.name}</td>
              <td>{a.artifactType}</td>
              <td className="mono">{a.contentPath}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
