/** Projects and their locks, the jobs queue, and API keys (admin only): read-only tables. */
import { useQuery } from "@tanstack/react-query";

import { Empty, ErrorState, Loading, StatusBadge, useProjects } from "../components";
import { formatTime, jobWorkerText } from "../lib/format";
import { useMe } from "../me";
import { useTRPC } from "../trpc";

export default function AdminViews({ view }: { view: "projects" | "jobs" | "keys" }) {
  if (view === "projects") return <Projects />;
  if (view === "jobs") return <Jobs />;
  return <Keys />;
}

function Projects() {
  const { projects: q, names } = useProjects();
  return (
    <section aria-labelledby="projects-heading">
      <h1 id="projects-heading">Projects and locks</h1>
      {q.isPending ? (
        <Loading what="projects" />
      ) : q.isError ? (
        <ErrorState error={q.error} what="projects" />
      ) : q.data.items.length === 0 ? (
        <Empty>No projects yet: a session with a working directory makes one.</Empty>
      ) : (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Project</th>
                <th scope="col">Path</th>
                <th scope="col">Lock</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((p) => (
                <tr key={p.id}>
                  <th scope="row">{names.get(p.id) ?? p.path}</th>
                  <td className="mono">{p.path}</td>
                  <td>
                    <LockCell projectId={p.id} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function LockCell({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.projects.locks.inspect.queryOptions({ projectId }));
  if (q.isPending) return <span className="muted">…</span>;
  if (q.isError) return <span className="inline-error">could not check</span>;
  if (!q.data) return <span className="muted">free</span>;
  return (
    <span>
      held by <strong>{q.data.owner}</strong> until {formatTime(q.data.expiresAt)}
    </span>
  );
}

function Jobs() {
  const trpc = useTRPC();
  const q = useQuery(trpc.jobs.list.queryOptions({ limit: 500 }));
  return (
    <section aria-labelledby="jobs-heading">
      <h1 id="jobs-heading">Jobs</h1>
      {q.isPending ? (
        <Loading what="jobs" />
      ) : q.isError ? (
        <ErrorState error={q.error} what="jobs" />
      ) : q.data.items.length === 0 ? (
        <Empty>The queue is empty.</Empty>
      ) : (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Worker</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((j) => (
                <tr key={j.id} data-job-id={j.id}>
                  <th scope="row">{j.type}</th>
                  <td>
                    <StatusBadge status={j.status} />
                  </td>
                  <td className="num">
                    {j.attempts}/{j.maxAttempts}
                  </td>
                  <td data-testid="job-worker">{jobWorkerText(j)}</td>
                  <td className="inline-error">{j.error ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Keys() {
  const trpc = useTRPC();
  const me = useMe();
  const q = useQuery(trpc.apiKeys.list.queryOptions(undefined, { enabled: me.isAdmin }));
  if (!me.isAdmin) return <Empty>API keys are for admin keys only.</Empty>;
  return (
    <section aria-labelledby="keys-heading">
      <h1 id="keys-heading">API keys</h1>
      {q.isPending ? (
        <Loading what="keys" />
      ) : q.isError ? (
        <ErrorState error={q.error} what="keys" />
      ) : q.data.length === 0 ? (
        <Empty>No keys.</Empty>
      ) : (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {q.data.map((k) => (
                <tr key={k.id}>
                  <th scope="row">{k.name}</th>
                  <td className="mono">{k.prefix}</td>
                  <td>{k.scopes.join(", ")}</td>
                  <td>{formatTime(k.lastUsedAt)}</td>
                  <td>
                    {k.revokedAt
                      ? `revoked ${formatTime(k.revokedAt)}`
                      : k.expiresAt
                        ? `expires ${formatTime(k.expiresAt)}`
                        : "active"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
