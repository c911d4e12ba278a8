/**
 * Outbound webhooks (admin keys only; docs/webhooks.md): the subscriptions, a form to add one
 * (its signing secret is shown once, right after), enable/disable, a test delivery, delete
 * (asked twice), and each subscription's recent deliveries with every try.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";

import { Empty, ErrorState, Loading, ProjectOptions, useProjects } from "../components";
import { formatTime, STATUS_LABELS } from "../lib/format";
import type { RouterInputs, RouterOutputs } from "../lib/types";
import { useMe } from "../me";
import { useTRPC } from "../trpc";

type Subscription = RouterOutputs["webhooks"]["list"][number];
type WebhookEvent = RouterInputs["webhooks"]["create"]["events"][number];
type WebhookFormat = NonNullable<RouterInputs["webhooks"]["create"]["format"]>;

/** Every event a subscription can ask for (the type makes a new one a compile error here). */
const EVENTS: Record<WebhookEvent, string> = {
  "session.pending": STATUS_LABELS.pending ?? "pending",
  "session.initializing": STATUS_LABELS.initializing ?? "starting",
  "session.active": STATUS_LABELS.active ?? "working",
  "session.idle": STATUS_LABELS.idle ?? "idle",
  "session.waiting_input": STATUS_LABELS.waiting_input ?? "needs you",
  "session.paused": STATUS_LABELS.paused ?? "paused",
  "session.completed": STATUS_LABELS.completed ?? "completed",
  "session.failed": STATUS_LABELS.failed ?? "failed",
  "session.cancelled": STATUS_LABELS.cancelled ?? "cancelled",
  "session.terminated": STATUS_LABELS.terminated ?? "ended",
};
const FORMATS: Record<WebhookFormat, string> = { json: "JSON (signed body)", slack: "Slack ({ text })" };

export default function WebhooksView() {
  const trpc = useTRPC();
  const me = useMe();
  const list = useQuery(trpc.webhooks.list.queryOptions());
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  return (
    <section aria-labelledby="webhooks-heading">
      <h1 id="webhooks-heading">Webhooks</h1>
      <p className="muted">
        Logbook posts to these addresses when a session changes status, signed with each subscription&apos;s secret
        (HMAC-SHA256 over the timestamp and body), through the job queue with retries.
      </p>
      {secret && (
        <div className="secret" role="alert" aria-labelledby="secret-heading">
          <h2 id="secret-heading">Signing secret for {secret.url}</h2>
          <p>Copy it now: it is shown this once and cannot be read again.</p>
          <code data-testid="webhook-secret">{secret.secret}</code>{" "}
          <button type="button" onClick={() => setSecret(null)}>
            I have saved it
          </button>
        </div>
      )}
      {list.isPending ? (
        <Loading what="webhooks" />
      ) : list.isError ? (
        <ErrorState error={list.error} what="webhooks" />
      ) : list.data.length === 0 ? (
        <Empty>No webhooks yet. Add one below to be told when a session needs you or ends.</Empty>
      ) : (
        <ul className="webhooks" aria-label="Webhook subscriptions">
          {list.data.map((s) => (
            <SubscriptionItem key={s.id} subscription={s} />
          ))}
        </ul>
      )}
      {me.isAdmin && <CreateForm onCreated={setSecret} />}
    </section>
  );
}

function CreateForm({ onCreated }: { onCreated: (shown: { url: string; secret: string }) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [url, setUrl] = useState("");
  const [name, setName] = useState("");
  const [events, setEvents] = useState<ReadonlySet<WebhookEvent>>(
    new Set(["session.waiting_input", "session.completed", "session.failed"]),
  );
  const [format, setFormat] = useState<WebhookFormat>("json");
  const [projectId, setProjectId] = useState("");
  const create = useMutation(
    trpc.webhooks.create.mutationOptions({
      onSuccess: (created) => {
        onCreated({ url: created.subscription.url, secret: created.secret });
        setUrl("");
        setName("");
        void queryClient.invalidateQueries({ queryKey: trpc.webhooks.list.queryKey() });
      },
    }),
  );
  const ids = { url: useId(), name: useId(), format: useId(), project: useId() };
  return (
    <form
      className="webhook-form"
      aria-labelledby="new-webhook-heading"
      onSubmit={(e) => {
        e.preventDefault();
        create.mutate({
          url,
          events: [...events],
          format,
          ...(name.trim() === "" ? {} : { name: name.trim() }),
          ...(projectId === "" ? {} : { projectId }),
        });
      }}
    >
      <h2 id="new-webhook-heading">Add a webhook</h2>
      <label htmlFor={ids.url}>Receiver URL</label>
      <input
        id={ids.url}
        type="url"
        required
        value={url}
        onChange={(e) => setUrl(e.target.value)}
        placeholder="https://example.com/hooks/logbook"
      />
      <label htmlFor={ids.name}>Name (optional)</label>
      <input id={ids.name} value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />
      <fieldset>
        <legend>Sessions entering</legend>
        {(Object.keys(EVENTS) as WebhookEvent[]).map((event) => (
          <label key={event} className="check">
            <input
              type="checkbox"
              checked={events.has(event)}
              onChange={(e) =>
                setEvents((old) => {
                  const next = new Set(old);
                  if (e.target.checked) next.add(event);
                  else next.delete(event);
                  return next;
                })
              }
            />{" "}
            {EVENTS[event]}
          </label>
        ))}
      </fieldset>
      <label htmlFor={ids.format}>Body</label>
      <select id={ids.format} value={format} onChange={(e) => setFormat(e.target.value as WebhookFormat)}>
        {(Object.keys(FORMATS) as WebhookFormat[]).map((f) => (
          <option key={f} value={f}>
            {FORMATS[f]}
          </option>
        ))}
      </select>
      <label htmlFor={ids.project}>Project</label>
      <select id={ids.project} value={projectId} onChange={(e) => setProjectId(e.target.value)}>
        <ProjectOptions />
      </select>
      <button type="submit" disabled={create.isPending}>
        {create.isPending ? "Adding…" : "Add webhook"}
      </button>
      {create.isError && (
        <p className="inline-error" role="alert">
          {create.error.message}
        </p>
      )}
    </form>
  );
}

function SubscriptionItem({ subscription: s }: { subscription: Subscription }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [showDeliveries, setShowDeliveries] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.webhooks.list.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.webhooks.deliveries.queryKey() });
  };
  const update = useMutation(trpc.webhooks.update.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.webhooks.remove.mutationOptions({ onSuccess: refresh }));
  const test = useMutation(
    trpc.webhooks.test.mutationOptions({
      onSuccess: () => {
        setShowDeliveries(true);
        refresh();
      },
    }),
  );
  const { names: projectNames } = useProjects();
  const label = s.name ?? s.url;
  const failure = update.error ?? remove.error ?? test.error;
  return (
    <li className="webhook" data-webhook-id={s.id}>
      <p className="webhook-head">
        <strong>{label}</strong>{" "}
        <span className={`badge ${s.enabled ? "status-active" : "status-failed"}`}>
          {s.enabled ? "enabled" : "disabled"}
        </span>{" "}
        {s.name && <span className="mono">{s.url}</span>}
      </p>
      <p className="muted">
        {s.events.map((e) => EVENTS[e]).join(", ")} · {FORMATS[s.format]}
        {s.projectId ? ` · project ${projectNames.get(s.projectId) ?? s.projectId}` : " · every project"} · last
        delivery {s.lastDeliveryAt ? formatTime(s.lastDeliveryAt) : "never"}
        {s.consecutiveFailures > 0 ? ` · ${s.consecutiveFailures} failed in a row` : ""}
      </p>
      {s.disabledReason && <p className="state error">{s.disabledReason}</p>}
      <div className="actions">
        <button
          type="button"
          aria-label={`${s.enabled ? "Disable" : "Enable"} ${label}`}
          disabled={update.isPending}
          onClick={() => update.mutate({ id: s.id, enabled: !s.enabled })}
        >
          {s.enabled ? "Disable" : "Enable"}
        </button>
        <button
          type="button"
          aria-label={`Send a test to ${label}`}
          disabled={test.isPending}
          onClick={() => test.mutate({ id: s.id })}
        >
          Send test
        </button>
        <button type="button" aria-expanded={showDeliveries} onClick={() => setShowDeliveries((v) => !v)}>
          Deliveries
        </button>
        {confirming ? (
          <>
            <button
              type="button"
              className="danger"
              aria-label={`Really delete ${label}`}
              disabled={remove.isPending}
              onClick={() => remove.mutate({ id: s.id })}
            >
              Delete for good
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" aria-label={`Delete ${label}`} onClick={() => setConfirming(true)}>
            Delete
          </button>
        )}
      </div>
      {failure && (
        <p className="inline-error" role="alert">
          {failure.message}
        </p>
      )}
      {showDeliveries && <Deliveries subscriptionId={s.id} />}
    </li>
  );
}

function Deliveries({ subscriptionId }: { subscriptionId: string }) {
  const trpc = useTRPC();
  // Pending deliveries change on their own (retries): ask again while any is pending.
  const q = useQuery(
    trpc.webhooks.deliveries.queryOptions(
      { subscriptionId, limit: 20 },
      { refetchInterval: (query) => (query.state.data?.items.some((d) => d.status === "pending") ? 2_000 : false) },
    ),
  );
  if (q.isPending) return <Loading what="deliveries" />;
  if (q.isError) return <ErrorState error={q.error} what="deliveries" />;
  if (q.data.items.length === 0) return <Empty>No deliveries yet.</Empty>;
  return (
    <div className="table-scroll">
      <table className="deliveries">
        <caption>Recent deliveries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Tries</th>
          </tr>
        </thead>
        <tbody>
          {q.data.items.map((d) => (
            <tr key={d.id} data-delivery-status={d.status}>
              <td>{d.event}</td>
              <td>
                <span className={`badge status-${d.status === "delivered" ? "completed" : d.status}`}>{d.status}</span>
              </td>
              <td>{formatTime(d.createdAt)}</td>
              <td>
                <ol className="plain attempts">
                  {d.attemptLog.map((a) => (
                    <li key={a.attempt}>
                      #{a.attempt} {formatTime(a.startedAt)}:{" "}
                      {a.statusCode === null ? "no answer" : `HTTP ${a.statusCode}`} in {a.durationMs} ms
                      {a.error ? ` — ${a.error}` : ""}
                      {a.nextAttemptAt ? ` · next try ${formatTime(a.nextAttemptAt)}` : ""}
                    </li>
                  ))}
                  {d.attemptLog.length === 0 && <li className="muted">not tried yet</li>}
                </ol>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
