/** Small pieces every view uses: the loading, empty and error states, and status badges. */
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";

import { STATUS_LABELS } from "./lib/format";
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

export function ErrorState({ error, what }: { error: unknown; what: string }) {
  const status = errorStatus(error);
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="state error" role="alert">
      <strong>Could not load {what}.</strong> {status === 503 ? "The database is not available right now." : message}
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{STATUS_LABELS[status] ?? status}</span>;
}

/** A project filter's choices: "all" (value "") and every project, by name or else path. */
export function ProjectOptions() {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions({ limit: 500 }));
  return (
    <>
      <option value="">all</option>
      {projects.data?.items.map((p) => (
        <option key={p.id} value={p.id}>
          {p.name ?? p.path}
        </option>
      ))}
    </>
  );
}
