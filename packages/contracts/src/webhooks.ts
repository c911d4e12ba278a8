import { z } from "zod";

import { isoDateTime, nonEmptyShortText, pageInput, page, uuid, inputObject } from "./common.js";
import { SESSION_STATUSES, sessionStatus } from "./enums.js";

/**
 * What a subscription can ask for: a session entering a status (`session.waiting_input`,
 * `session.completed`, `session.failed`, …). `webhook.test` is only sent by `webhooks.test`.
 */
export const WEBHOOK_EVENTS = SESSION_STATUSES.map((status) => `session.${status}` as const);
export const webhookEvent = z.enum(WEBHOOK_EVENTS, {
  error: `must be one of ${WEBHOOK_EVENTS.join(", ")}`,
});
export type WebhookEvent = z.infer<typeof webhookEvent>;

/** `json`: the delivery body below; `slack`: `{ "text": "…" }`, what a Slack incoming webhook takes. */
export const WEBHOOK_FORMATS = ["json", "slack"] as const;
export const webhookFormat = z.enum(WEBHOOK_FORMATS, { error: "must be json or slack" });

/**
 * The URL in a value, or undefined. Zod runs these refinements even on a value its URL check
 * has refused already (that check's issue is the one reported), so they must not throw.
 */
function parsedUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/**
 * A receiver's address: http(s) only, no user name or password in it (a URL ends up in
 * logs and screens). Whether its host is a public address is the service's check (it
 * resolves the name), here only the shape.
 */
export const webhookUrl = () =>
  z
    .string()
    .trim()
    .max(2048, { error: "must be at most 2048 characters" })
    .pipe(z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }))
    .refine((value) => {
      const url = parsedUrl(value);
      return url === undefined || (url.username === "" && url.password === "");
    }, "must not carry a user name or password")
    .refine((value) => !parsedUrl(value)?.hash, "must not have a #fragment");

/** A subscription as listed: never its secret. */
export const webhookSubscription = z.object({
  id: z.string(),
  name: z.string().nullable(),
  url: z.string(),
  events: z.array(webhookEvent),
  projectId: z.string().nullable(),
  format: webhookFormat,
  enabled: z.boolean(),
  /** Failed attempts in a row; at the server's limit the subscription is disabled. */
  consecutiveFailures: z.number().int(),
  /** Why it is disabled, when the server did it (too many failures in a row). */
  disabledReason: z.string().nullable(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
  lastDeliveryAt: isoDateTime().nullable(),
});
export type WebhookSubscription = z.infer<typeof webhookSubscription>;

export const createWebhookInput = inputObject({
  url: webhookUrl(),
  events: z
    .array(webhookEvent)
    .min(1, { error: "give at least one event" })
    .transform((events) => [...new Set(events)]),
  name: nonEmptyShortText().optional(),
  /** Only sessions of this project. */
  projectId: uuid().optional(),
  format: webhookFormat.default("json"),
  enabled: z.boolean().default(true),
});
export type CreateWebhookInput = z.output<typeof createWebhookInput>;

/** The only answer that holds the signing secret. */
export const createdWebhook = z.object({ subscription: webhookSubscription, secret: z.string() });
export type CreatedWebhook = z.infer<typeof createdWebhook>;

/** Changes what is given; `projectId: null` removes the project filter. Enabling clears the failure count. */
export const updateWebhookInput = inputObject({
  id: uuid(),
  url: webhookUrl().optional(),
  events: z
    .array(webhookEvent)
    .min(1, { error: "give at least one event" })
    .transform((events) => [...new Set(events)])
    .optional(),
  name: nonEmptyShortText().nullable().optional(),
  projectId: uuid().nullable().optional(),
  format: webhookFormat.optional(),
  enabled: z.boolean().optional(),
});
export type UpdateWebhookInput = z.output<typeof updateWebhookInput>;

export const WEBHOOK_DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;
export const webhookDeliveryStatus = z.enum(WEBHOOK_DELIVERY_STATUSES);

/** One try at sending a delivery. */
export const webhookAttempt = z.object({
  attempt: z.number().int(),
  startedAt: isoDateTime(),
  durationMs: z.number().int(),
  /** The receiver's HTTP status; null when no answer came (refused, timed out, blocked address). */
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  /** The first bytes of the receiver's answer (at most 512 characters). */
  responseExcerpt: z.string().nullable(),
  /** When the next try is due; null after the last one. */
  nextAttemptAt: isoDateTime().nullable(),
});
export type WebhookAttempt = z.infer<typeof webhookAttempt>;

export const webhookDelivery = z.object({
  id: z.string(),
  subscriptionId: z.string(),
  event: z.string(),
  sessionId: z.string().nullable(),
  status: webhookDeliveryStatus,
  attempts: z.number().int(),
  createdAt: isoDateTime(),
  deliveredAt: isoDateTime().nullable(),
  nextAttemptAt: isoDateTime().nullable(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  /** Every try, oldest first. */
  attemptLog: z.array(webhookAttempt),
});
export type WebhookDelivery = z.infer<typeof webhookDelivery>;

export const listWebhookDeliveriesInput = inputObject({
  subscriptionId: uuid(),
  status: z.array(webhookDeliveryStatus).min(1).optional(),
  ...pageInput,
});
export type ListWebhookDeliveriesInput = z.output<typeof listWebhookDeliveriesInput>;
export const webhookDeliveryPage = page(webhookDelivery);

/**
 * What a `json` delivery's body is: the change, with enough of the session to act on it.
 * Receivers should ignore fields they do not know (new ones may come).
 */
export const webhookPayload = z.object({
  /** The delivery id, also in the `Logbook-Webhook-Id` header: the same on every retry, so receivers can drop duplicates. */
  id: z.string(),
  event: z.string(),
  occurredAt: isoDateTime(),
  session: z
    .object({
      id: z.string(),
      externalId: z.string().nullable(),
      title: z.string().nullable(),
      projectId: z.string().nullable(),
      cwd: z.string().nullable(),
      status: sessionStatus,
      previousStatus: sessionStatus.nullable(),
      statusReason: z.string().nullable(),
    })
    .nullable(),
});
export type WebhookPayload = z.infer<typeof webhookPayload>;

/** `webhooks.test`: a `webhook.test` delivery, sent through the queue like any other. */
export const testWebhookInput = inputObject({ id: uuid() });

export const webhookDeliveryRef = z.object({ deliveryId: z.string(), subscriptionId: z.string() });

/** Header names of a delivery (lower case, as Node reports them). */
export const WEBHOOK_HEADERS = {
  id: "logbook-webhook-id",
  event: "logbook-webhook-event",
  timestamp: "logbook-webhook-timestamp",
  signature: "logbook-webhook-signature",
} as const;
