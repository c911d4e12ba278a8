/**
 * @logbook/sdk: a typed client for Logbook. Types come from the API (`import type`
 * only), so nothing of the server is in your bundle; the published declarations carry the
 * router's types themselves (rollup.dts.config.js). Works in Node 20+ and browsers.
 */
export {
  backoffDelay,
  createLogbookClient,
  IDEMPOTENT_MUTATIONS,
  MAX_INGEST_BATCH,
  withEventIds,
  type EventSourceConstructor,
  type ExportDownload,
  type FollowSessionOptions,
  type Following,
  type LogbookClient,
  type LogbookClientOptions,
  type LogbookHelpers,
  type RetryOptions,
} from "./client.js";
export {
  isLogbookError,
  LogbookError,
  TRANSIENT_STATUSES,
  type LogbookAppCode,
  type LogbookErrorCode,
} from "./errors.js";
export {
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADERS,
  type VerifyWebhookOptions,
  type WebhookVerification,
} from "./webhooks.js";
export { LogbookSessionStore, type SessionKey, type SessionStoreEntry } from "./session-store.js";
export { readableTitle, sessionTitle } from "./session-title.js";
export { changedOnWayIn } from "./changed-on-way-in.js";
export type { AppRouter, LogbookErrorData } from "@logbook/api";
export type { InputIssue } from "@logbook/contracts";
export type * from "./types.js";
