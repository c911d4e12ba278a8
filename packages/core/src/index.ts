/**
 * @logbook/core: the product's behaviour. Services own the rules and the transactions;
 * they take and return the Zod contract types of @logbook/contracts and know nothing of
 * tRPC or HTTP. Errors are `AppError`s with a closed set of codes.
 */
export {
  APP_ERROR_CODES,
  AppError,
  invalidInput,
  invalidInputFrom,
  isAppError,
  errorChain,
  isDatabaseAway,
  isDatabaseUnreachable,
  notFound,
  toAppError,
} from "./errors.js";
export type { AppErrorCode } from "./errors.js";
export type { CoreDeps } from "./deps.js";
export {
  allowedTransitions,
  assertTransition,
  canTransition,
  SEED_STATUS_MAP,
  statusFromSeedWord,
} from "./sessions/session-status.js";
export { sanitizeJsonForPostgres } from "./json.js";
export { toSessionDto } from "./sessions/session-dto.js";
export { SessionService } from "./sessions/session-service.js";
export { ExportService, INLINE_EXPORT_MAX_CHARS, type ExportFile } from "./sessions/export-service.js";
export { EventService } from "./events/event-service.js";
export { SEARCH_WINDOW, SearchService } from "./search/search-service.js";
export { deriveSession, hookStatusRule } from "./events/derive.js";
export { HookService, hookToEvent, parseHookPayload } from "./hooks/hook-service.js";
export type { HookMeta } from "./hooks/hook-service.js";
export { OtelService } from "./otel/otel-service.js";
export { SessionStoreService } from "./session-store/session-store-service.js";
export { LiveBus } from "./live/live-bus.js";
export type { EventFilter, LiveEvent, SessionFilter } from "./live/live-bus.js";
export { createServices } from "./services.js";
export type { Services } from "./services.js";
export { StatsService } from "./stats/stats-service.js";
export { UsageService } from "./usage/usage-service.js";
export { BUILTIN_PRICE_TABLE } from "./pricing/price-table.js";
export { PriceBook, Pricing, normalizeModelId, readPriceTableFile } from "./pricing/pricing.js";
export type { MessageUsage } from "./pricing/pricing.js";
export type { ActiveSessionStats, EventTypeCount, TokenTotalsRow, ToolUsage } from "./stats/stats-service.js";
export { RETENTION_LOCK, RetentionService } from "./retention/retention-service.js";
export { PartitionService } from "./partitions/partition-service.js";
export type { EventPartition, RetiredPartitionMode, RetiredPartitions } from "./partitions/partition-service.js";
export { ApiKeyService, BOOTSTRAP_KEY_LOCK, DEFAULT_VERIFY_CACHE_MS } from "./api-keys/api-key-service.js";
export type { ApiKeyPrincipal } from "./api-keys/api-key-service.js";
export { AuthFailureService, type AuthFailurePolicy } from "./auth-failures/auth-failure-service.js";
export {
  LOGIN_LINK_TTL_MS,
  WEB_SESSION_TTL_MS,
  WebSessionService,
  type IssuedToken,
  type WebSessionPrincipal,
} from "./web-sessions/web-session-service.js";
export { ProjectService, canonicalProjectPath, upsertProjectByPath } from "./projects/project-service.js";
export { LockService } from "./projects/lock-service.js";
export { JobService, jobBackoffMs } from "./jobs/job-service.js";
export type { JobServiceOptions } from "./jobs/job-service.js";
export { MessageService } from "./records/message-service.js";
export { FileService, normaliseFilePath } from "./records/file-service.js";
export { guessMimeType } from "./records/mime-type.js";
export { StepService, STEP_MOVES } from "./records/step-service.js";
export { ArtifactService } from "./records/artifact-service.js";
export { Redactor, SECRET_FIELD_RULE, readRedactionRulesFile, redactionMarker } from "./redaction/redactor.js";
export type { RedactorOptions } from "./redaction/redactor.js";
export { DEFAULT_RULES as DEFAULT_REDACTION_RULES } from "./redaction/rules.js";
export type { RedactionRule } from "./redaction/rules.js";
export { WEBHOOK_JOB_TYPE, WebhookService, webhookBackoffMs } from "./webhooks/webhook-service.js";
export type { WebhookOptions } from "./webhooks/webhook-service.js";
export { isPublicAddress } from "./webhooks/address-guard.js";
