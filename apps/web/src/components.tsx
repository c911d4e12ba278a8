/** Small pieces every view uses: the loading, empty and error states, and status badges. */
import { useQuery } from "@tanstack/react-query";
import { useMemo, type ReactNode } from "react";

import { STATUS_LABELS } from "./lib/format";
import { projectNames } from "./lib/names";
import { errorStatus, useTRPC } from "./trpc";

export function Loading({ what }: { what: string }) {
  return (
    <p className="state" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** What went wrong, in words a reader can act on. */
function errorText(error: unknown): string {
  if (errorStatus(error) === 503) return "The database is not available right now.";
  return error instanceof Error ? error.message : String(error);
}

export function ErrorState({ error, what }: { error: unknown; what: string }) {
  return (
    <div className="state error" role="alert">
      <strong>Could not load {what}.</strong> {errorText(error)}
    </div>
  );
}

/**
 * A failure after something was shown (a later page, a refresh): said below what is shown,
 * which stays, with a way to ask again. Replacing the shown rows with the error would lose
 * what the reader was looking at for a page they had not seen yet.
 */
function PageError({ error, what, retry }: { error: unknown; what: string; retry: () => void }) {
  return (
    <div className="state error page-error" role="alert">
      <strong>Could not load {what}.</strong> {errorText(error)}{" "}
      <button type="button" onClick={retry}>
        Try again
      </button>
    </div>
  );
}

/**
 * The error of an infinite query that still has pages to show: which part failed (the next
 * page, or a refresh of those shown) and how to ask again; null when nothing failed.
 */
export function LaterPageError(props: {
  query: {
    isError: boolean;
    isFetchNextPageError: boolean;
    error: unknown;
    fetchNextPage: () => Promise<unknown>;
    refetch: () => Promise<unknown>;
  };
  /** What the next page holds, as in "Could not load {more sessions}". */
  more: string;
  /** What a refresh reloads, as in "Could not refresh {the sessions}". */
  shown: string;
}) {
  const { query } = props;
  if (!query.isError) return null;
  return query.isFetchNextPageError ? (
    <PageError error={query.error} what={props.more} retry={() => void query.fetchNextPage()} />
  ) : (
    <PageError error={query.error} what={`the latest of ${props.shown}`} retry={() => void query.refetch()} />
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{STATUS_LABELS[status] ?? status}</span>;
}

/**
 * The projects (up to 500, one query shared by every view) and the name each is shown by:
 * its name, with the distinctive end of its path where two share a name (`lib/names.ts`).
 */
export function useProjects() {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions({ limit: 500 }));
  const names = useMemo(() => projectNames(projects.data?.items ?? []), [projects.data]);
  return { projects, names };
}

/** A project filter's choices: "all" (value "") and every project by its shown name, sorted. */
export function ProjectOptions() {
  const { projects, names } = useProjects();
  const sorted = useMemo(
    () =>
      (projects.data?.items ?? [])
        .map((p) => ({ ...p, shown: names.get(p.id) ?? p.path }))
        .sort((a, b) => a.shown.localeCompare(b.shown)),
    [projects.data, names],
  );
  return (
    <>
      <option value="">all</option>
      {sorted.map((p) => (
        <option key={p.id} value={p.id} title={p.path}>
          {p.shown}
        </option>
      ))}
    </>
  );
}
