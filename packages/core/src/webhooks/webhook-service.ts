import {
  WEBHOOK_HEADERS,
  webhookPayload,
  type CreatedWebhook,
  type CreateWebhookInput,
  type IdInput,
  type Job,
  type ListWebhookDeliveriesInput,
  type UpdateWebhookInput,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookPayload,
  type WebhookSubscription,
} from "@logbook/contracts";

import type { Knex } from "@logbook/db";

import { clockOf, type CoreDeps } from "../deps.js";
import { notFound } from "../errors.js";
import { returnedRow } from "../invariants.js";
import type { JobService } from "../jobs/job-service.js";
import { assertCursorValues, decodeCursor, timestampKey, toPage } from "../pagination.js";
import { rowsOf, violated } from "../sql.js";
import { iso } from "../time.js";
import { assertDeliverableUrl } from "./address-guard.js";
import { sendWebhook, type SendOutcome } from "./send.js";
import { newWebhookSecret, signWebhook } from "./signing.js";

/** The job type the database's fan-out trigger enqueues, one job per delivery. */
export const WEBHOOK_JOB_TYPE = "webhook.deliver";

export interface WebhookOptions {
  /**
   * Deliver to private, loopback and link-local addresses too (a receiver on the same
   * machine or network). Off: only public addresses. @default false
   */
  allowPrivate?: boolean;
  /** Tries per delivery, the first included. @default 8 */
  maxAttempts?: number;
  /** Failed tries in a row (across deliveries) after which a subscription is disabled. @default 20 */
  disableAfterFailures?: number;
  /** Delay before the second try; each later one doubles it, then jitter. @default 10_000 */
  backoffBaseMs?: number;
  /** Longest delay between two tries. @default 3_600_000 */
  backoffMaxMs?: number;
  /** Longest a receiver may take to answer. @default 10_000 */
  timeoutMs?: number;
}

/**
 * The wait before the try after try `attempt` (1-based) failed: `base * 2^(attempt-1)`
 * capped at `max`, then "equal jitter" (a random point in its upper half), so receivers
 * that came back together are not hit by every retry at the same moment.
 */
export function webhookBackoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const delay = Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
  return Math.round(delay / 2 + random() * (delay / 2));
}

const SUBSCRIPTION_COLUMNS = `id, name, url, events, project_id, format, enabled, consecutive_failures, disabled_reason,
  created_at, updated_at, last_delivery_at`;

function toSubscription(row: Record<string, unknown>): WebhookSubscription {
  return {
    id: String(row.id),
    name: (row.name as string | null) ?? null,
    url: String(row.url),
    events: row.events as WebhookSubscription["events"],
    projectId: (row.project_id as string | null) ?? null,
    format: row.format as WebhookSubscription["format"],
    enabled: Boolean(row.enabled),
    consecutiveFailures: Number(row.consecutive_failures),
    disabledReason: (row.disabled_reason as string | null) ?? null,
    createdAt: iso(row.created_at as Date),
    updatedAt: iso(row.updated_at as Date),
    lastDeliveryAt: iso((row.last_delivery_at as Date | null) ?? null),
  };
}

function toAttempt(row: Record<string, unknown>): WebhookAttempt {
  return {
    attempt: Number(row.attempt),
    startedAt: iso(row.started_at as Date),
    durationMs: Number(row.duration_ms),
    statusCode: row.status_code === null ? null : Number(row.status_code),
    error: (row.error as string | null) ?? null,
    responseExcerpt: (row.response_excerpt as string | null) ?? null,
    nextAttemptAt: iso((row.next_attempt_at as Date | null) ?? null),
  };
}

/**
 * Slack reads `<…>` as links and mentions (`<!channel>`) and `&` as an entity: a title or
 * prompt from a session must come out as the text it is, never ping a channel.
 */
function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** What the Slack format says: one line a person reads in a channel. */
export function slackText(payload: WebhookPayload): string {
  const session = payload.session;
  if (!session) return "Logbook: a test delivery from your webhook subscription.";
  const name = session.title ?? session.externalId ?? session.id;
  const status = session.status === "waiting_input" ? "is waiting for you" : `is now ${session.status}`;
  const reason = session.statusReason ? ` (${session.statusReason})` : "";
  const where = session.cwd ? ` in ${session.cwd}` : "";
  return slackEscape(`Logbook: session "${name}"${where} ${status}${reason}.`);
}

/**
 * Outbound webhooks (docs/webhooks.md): subscriptions, and the delivery of the changes the
 * database fans out to them (the `webhook.deliver` jobs). At least once: a delivery is
 * retried with backoff until a 2xx or `maxAttempts` tries; its id stays the same, so
 * receivers drop duplicates by `Logbook-Webhook-Id`. No order is promised between
 * deliveries (a retried one may arrive after a later change): `occurredAt` orders them.
 */
export class WebhookService {
  private readonly allowPrivate: boolean;
  private readonly maxAttempts: number;
  private readonly disableAfterFailures: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly deps: CoreDeps,
    private readonly jobs: JobService,
    options: WebhookOptions = {},
  ) {
    this.allowPrivate = options.allowPrivate ?? false;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.disableAfterFailures = options.disableAfterFailures ?? 20;
    this.backoffBaseMs = options.backoffBaseMs ?? 10_000;
    this.backoffMaxMs = options.backoffMaxMs ?? 3_600_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The answer holds the signing secret: the only time it is shown. */
  async create(input: CreateWebhookInput): Promise<CreatedWebhook> {
    await assertDeliverableUrl(input.url, this.allowPrivate);
    const secret = newWebhookSecret();
    try {
      const rows = rowsOf(
        await this.deps.knex.raw(
          `INSERT INTO webhook_subscriptions (name, url, events, project_id, format, enabled, secret)
           VALUES (?, ?, ?::text[], ?, ?, ?, ?) RETURNING ${SUBSCRIPTION_COLUMNS}`,
          [input.name ?? null, input.url, input.events, input.projectId ?? null, input.format, input.enabled, secret],
        ),
      );
      return { subscription: toSubscription(returnedRow(rows[0], "INSERT INTO webhook_subscriptions")), secret };
    } catch (error) {
      if (violated(error, "23503")) throw notFound("project", input.projectId ?? "");
      throw error;
    }
  }

  /** Every subscription, oldest first; never a secret. */
  async list(): Promise<WebhookSubscription[]> {
    const rows = rowsOf(
      await this.deps.knex.raw(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id`),
    );
    return rows.map(toSubscription);
  }

  async get(input: IdInput): Promise<WebhookSubscription> {
    const rows = rowsOf(
      await this.deps.knex.raw(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = ?`, [input.id]),
    );
    if (!rows[0]) throw notFound("webhook subscription", input.id);
    return toSubscription(rows[0]);
  }

  /** Changes the fields given. Enabling (again) clears the failure count and the reason it was disabled. */
  async update(input: UpdateWebhookInput): Promise<WebhookSubscription> {
    if (input.url !== undefined) await assertDeliverableUrl(input.url, this.allowPrivate);
    const sets: string[] = [];
    const bindings: Knex.RawBinding[] = [];
    const set = (sql: string, value: Knex.RawBinding) => {
      sets.push(sql);
      bindings.push(value);
    };
    if (input.url !== undefined) set("url = ?", input.url);
    if (input.events !== undefined) set("events = ?::text[]", input.events);
    if (input.name !== undefined) set("name = ?", input.name);
    if (input.projectId !== undefined) set("project_id = ?", input.projectId);
    if (input.format !== undefined) set("format = ?", input.format);
    if (input.enabled !== undefined) {
      set("enabled = ?", input.enabled);
      if (input.enabled) sets.push("consecutive_failures = 0", "disabled_reason = NULL");
    }
    if (sets.length === 0) return this.get({ id: input.id });
    try {
      const rows = rowsOf(
        await this.deps.knex.raw(
          `UPDATE webhook_subscriptions SET ${sets.join(", ")} WHERE id = ? RETURNING ${SUBSCRIPTION_COLUMNS}`,
          [...bindings, input.id],
        ),
      );
      if (!rows[0]) throw notFound("webhook subscription", input.id);
      return toSubscription(rows[0]);
    } catch (error) {
      if (violated(error, "23503")) throw notFound("project", input.projectId ?? "");
      throw error;
    }
  }

  /** Deletes the subscription with its deliveries; their jobs find nothing to send and end. */
  async remove(input: IdInput): Promise<WebhookSubscription> {
    const rows = rowsOf(
      await this.deps.knex.raw(`DELETE FROM webhook_subscriptions WHERE id = ? RETURNING ${SUBSCRIPTION_COLUMNS}`, [
        input.id,
      ]),
    );
    if (!rows[0]) throw notFound("webhook subscription", input.id);
    return toSubscription(rows[0]);
  }

  /**
   * Queues a `webhook.test` delivery to the subscription, signed and retried like any other
   * (even when the subscription is disabled: it is how one checks a receiver before enabling).
   */
  async test(input: IdInput): Promise<{ deliveryId: string; subscriptionId: string }> {
    await this.get(input);
    const occurredAt = clockOf(this.deps)().toISOString();
    const rows = rowsOf(
      await this.deps.knex.raw(
        `WITH made AS (
           INSERT INTO webhook_deliveries (subscription_id, event, data)
           VALUES (?, 'webhook.test', jsonb_build_object('occurredAt', ?::text, 'session', NULL)) RETURNING id)
         INSERT INTO jobs (type, data, max_attempts)
         SELECT ?, jsonb_build_object('deliveryId', made.id), 100 FROM made
         RETURNING data->>'deliveryId' AS delivery_id`,
        [input.id, occurredAt, WEBHOOK_JOB_TYPE],
      ),
    );
    return {
      deliveryId: String(returnedRow(rows[0], "INSERT INTO webhook_deliveries").delivery_id),
      subscriptionId: input.id,
    };
  }

  /** A subscription's deliveries, newest first, each with its tries. */
  async deliveries(
    input: ListWebhookDeliveriesInput,
  ): Promise<{ items: WebhookDelivery[]; nextCursor: string | null }> {
    await this.get({ id: input.subscriptionId });
    const knex = this.deps.knex;
    const query = knex("webhook_deliveries")
      .select([
        "id",
        "subscription_id",
        "event",
        "session_id",
        "status",
        "attempts",
        "created_at",
        "delivered_at",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        knex.raw(`${timestampKey("created_at")} AS cursor_key`),
      ])
      .where("subscription_id", input.subscriptionId)
      .orderBy([
        { column: "created_at", order: "desc" },
        { column: "id", order: "desc" },
      ])
      .limit(input.limit + 1);
    if (input.status) query.whereIn("status", input.status);
    if (input.cursor !== undefined) {
      const values = decodeCursor(input.cursor, ["string", "string"]);
      assertCursorValues(values, ["timestamp", "uuid"]);
      query.whereRaw("(created_at, id) < (?::timestamptz, ?::uuid)", values);
    }
    const rows = (await query) as Array<Record<string, unknown>>;
    const ids = rows.slice(0, input.limit).map((row) => String(row.id));
    const attempts = ids.length
      ? ((await knex("webhook_attempts")
          .select("*")
          .whereIn("delivery_id", ids)
          .orderBy([{ column: "delivery_id" }, { column: "attempt" }])) as Array<Record<string, unknown>>)
      : [];
    const byDelivery = new Map<string, WebhookAttempt[]>();
    for (const row of attempts) {
      const id = String(row.delivery_id);
      byDelivery.set(id, [...(byDelivery.get(id) ?? []), toAttempt(row)]);
    }
    return toPage(
      rows,
      input.limit,
      (row) => ({
        id: String(row.id),
        subscriptionId: String(row.subscription_id),
        event: String(row.event),
        sessionId: (row.session_id as string | null) ?? null,
        status: row.status as WebhookDelivery["status"],
        attempts: Number(row.attempts),
        createdAt: iso(row.created_at as Date),
        deliveredAt: iso((row.delivered_at as Date | null) ?? null),
        nextAttemptAt: iso((row.next_attempt_at as Date | null) ?? null),
        lastStatusCode: row.last_status_code === null ? null : Number(row.last_status_code),
        lastError: (row.last_error as string | null) ?? null,
        attemptLog: byDelivery.get(String(row.id)) ?? [],
      }),
      (row) => [String(row.cursor_key), String(row.id)],
    );
  }

  /**
   * One worker turn: claims up to `limit` due deliveries and sends them, concurrently.
   * Returns how many it handled. Any number of workers (replicas) may run this at once:
   * the queue's SKIP LOCKED claim gives each delivery job to one of them.
   */
  async deliverDue(workerId: string, limit = 10): Promise<number> {
    const leaseMs = Math.max(60_000, this.timeoutMs * 3);
    const claimed = await this.jobs.claim({ workerId, types: [WEBHOOK_JOB_TYPE], limit, leaseMs });
    await Promise.all(claimed.map((job) => this.deliver(job, workerId)));
    return claimed.length;
  }

  /** Sends one delivery job's delivery once and records the try; the job then ends or waits for its retry. */
  private async deliver(job: Job, workerId: string): Promise<void> {
    const deliveryId = (job.data as { deliveryId?: unknown }).deliveryId;
    const rows =
      typeof deliveryId === "string"
        ? rowsOf(
            await this.deps.knex.raw(
              `SELECT d.id, d.event, d.data, d.status, d.attempts, s.id AS subscription_id, s.url, s.format, s.enabled,
                 s.secret
               FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
               WHERE d.id = ?`,
              [deliveryId],
            ),
          )
        : [];
    const row = rows[0];
    if (!row || row.status !== "pending") {
      // Removed with its subscription, or already settled by an earlier run of this job.
      await this.jobs.complete({
        id: job.id,
        workerId,
        result: { skipped: row ? `already ${String(row.status)}` : "gone" },
      });
      return;
    }
    if (!row.enabled && row.event !== "webhook.test") {
      await this.deps.knex.raw(
        `UPDATE webhook_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL WHERE id = ?`,
        ["the subscription is disabled", String(row.id)],
      );
      await this.jobs.complete({ id: job.id, workerId, result: { skipped: "subscription disabled" } });
      return;
    }

    const data = row.data as { occurredAt: string; session: WebhookPayload["session"] };
    const payload = webhookPayload.parse({
      id: row.id,
      event: row.event,
      occurredAt: data.occurredAt,
      session: data.session,
    });
    const body = JSON.stringify(row.format === "slack" ? { text: slackText(payload) } : payload);
    const timestamp = Math.floor(clockOf(this.deps)().getTime() / 1000);
    const attempt = Number(row.attempts) + 1;
    const startedAt = new Date();
    const outcome = await sendWebhook({
      url: String(row.url),
      body,
      timeoutMs: this.timeoutMs,
      allowPrivate: this.allowPrivate,
      headers: {
        "content-type": "application/json",
        "user-agent": "Logbook-Webhooks/1",
        [WEBHOOK_HEADERS.id]: String(row.id),
        [WEBHOOK_HEADERS.event]: String(row.event),
        [WEBHOOK_HEADERS.timestamp]: String(timestamp),
        [WEBHOOK_HEADERS.signature]: signWebhook(String(row.secret), timestamp, body),
      },
    });
    const last = !outcome.ok && attempt >= this.maxAttempts;
    const retryInMs = outcome.ok || last ? null : webhookBackoffMs(attempt, this.backoffBaseMs, this.backoffMaxMs);
    const recorded = await this.record(
      String(row.id),
      String(row.subscription_id),
      attempt,
      startedAt,
      outcome,
      retryInMs,
    );
    if (!recorded) {
      // The subscription was removed while the request was out: nothing is left to record.
      await this.jobs.complete({ id: job.id, workerId, result: { skipped: "gone" } });
    } else if (outcome.ok) {
      await this.jobs.complete({ id: job.id, workerId, result: { statusCode: outcome.statusCode, attempt } });
    } else {
      await this.jobs.fail(
        { id: job.id, workerId, error: outcome.error ?? "failed", permanent: last },
        retryInMs === null ? {} : { retryInMs },
      );
    }
  }

  /**
   * The try, the delivery's state and the subscription's failure streak, in one transaction.
   * Returns false when the subscription (and with it the delivery) was removed meanwhile.
   *
   * Lock order: the subscription row first, then the delivery's rows. `remove` deletes the
   * subscription and its cascade reaches the deliveries, so it locks in that same order; taking
   * the delivery first here deadlocked with a removal that came while a request was out.
   */
  private async record(
    deliveryId: string,
    subscriptionId: string,
    attempt: number,
    startedAt: Date,
    outcome: SendOutcome,
    retryInMs: number | null,
  ): Promise<boolean> {
    const nextAttemptAt = retryInMs === null ? null : new Date(Date.now() + retryInMs);
    const status = outcome.ok ? "delivered" : retryInMs === null ? "failed" : "pending";
    return this.deps.knex.transaction(async (trx) => {
      const subscription = rowsOf(
        await trx.raw(`SELECT id FROM webhook_subscriptions WHERE id = ? FOR NO KEY UPDATE`, [subscriptionId]),
      );
      if (!subscription[0]) return false;
      await trx.raw(
        `INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_excerpt,
           next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
        [
          deliveryId,
          attempt,
          startedAt,
          outcome.durationMs,
          outcome.statusCode,
          outcome.error,
          outcome.responseExcerpt,
          nextAttemptAt,
        ],
      );
      await trx.raw(
        `UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?,
           delivered_at = CASE WHEN ? THEN now() ELSE NULL END
         WHERE id = ?`,
        [status, attempt, nextAttemptAt, outcome.statusCode, outcome.error, outcome.ok, deliveryId],
      );
      await trx.raw(
        `UPDATE webhook_subscriptions SET last_delivery_at = now(),
           consecutive_failures = CASE WHEN ? THEN 0 ELSE consecutive_failures + 1 END,
           enabled = CASE WHEN NOT ? AND consecutive_failures + 1 >= ? THEN false ELSE enabled END,
           disabled_reason = CASE WHEN NOT ? AND enabled AND consecutive_failures + 1 >= ?
             THEN 'disabled after ' || (consecutive_failures + 1) || ' failed deliveries in a row (last: ' || ? || ')'
             ELSE disabled_reason END
         WHERE id = ?`,
        [
          outcome.ok,
          outcome.ok,
          this.disableAfterFailures,
          outcome.ok,
          this.disableAfterFailures,
          outcome.error ?? "",
          subscriptionId,
        ],
      );
      return true;
    });
  }
}
