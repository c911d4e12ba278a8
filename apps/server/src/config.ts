/**
 * The server's whole configuration, parsed once at start from the environment. Nothing
 * else in the server reads `process.env`: everything gets a `ServerConfig`.
 */
import { fileURLToPath } from "node:url";

import type { WebhookOptions } from "@logbook/core";

import { databaseEnvSchema, poolSettingsFromEnv, type PoolSettings } from "@logbook/db";
import {
  issueLine,
  retentionPolicy,
  toInputIssues,
  type InactivityPolicy,
  type RetentionPolicy,
} from "@logbook/contracts";
import { z } from "zod";

const MIB = 1024 * 1024;

/** "true"/"false" (also 1/0, yes/no, on/off), not JavaScript truthiness: "false" is false. */
const booleanFlag = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"], { error: "must be true or false" }))
    .transform((value) => ["true", "1", "yes", "on"].includes(value))
    .optional()
    .transform((value) => value ?? fallback);

const int = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(fallback);

/** Unset (or empty: `parseConfig` drops empty variables) means off. */
const optionalInt = (min: number, max: number) =>
  z.coerce
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .optional();

const HOUR_MS = 60 * 60 * 1000;

export const serverEnvSchema = databaseEnvSchema.extend({
  /** Interface to listen on. Loopback by default: set 0.0.0.0 deliberately to expose it. */
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  /** 0 picks a free port (the start-up log says which). */
  PORT: int(0, 65_535, 4680),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      error: "must be one of fatal, error, warn, info, debug, trace, silent",
    })
    .default("info"),
  /** Largest request body (tRPC calls and hook posts); larger ones get 413. */
  BODY_LIMIT_BYTES: int(1024, 1024 * MIB, 8 * MIB),
  /**
   * Request-body bytes held at once across all requests (declared lengths; a chunked body
   * counts as BODY_LIMIT_BYTES). A request that does not fit gets 503 with Retry-After.
   */
  BODY_BUDGET_BYTES: int(1024, 16 * 1024 * MIB, 32 * MIB),
  /** Calls one batched tRPC request may hold; more get 413 before any of them runs. */
  MAX_BATCH_CALLS: int(1, 10_000, 50),
  /** Events across the ingest calls of one batched request (each call holds at most 1,000); more get 413. */
  MAX_BATCH_EVENTS: int(1, 1_000_000, 5_000),
  /**
   * Failed authentications (unknown, wrong, revoked or expired keys, malformed headers) one
   * client address may make per AUTH_FAILURE_WINDOW_MS; past it, 429 with Retry-After until
   * the window ends. 0 turns the throttle off.
   */
  AUTH_FAILURE_LIMIT: int(0, 1_000_000, 20),
  AUTH_FAILURE_WINDOW_MS: int(1_000, 24 * 60 * 60_000, 60_000),
  /** Sessions ended longer ago than this are purged (or archived). */
  RETENTION_SESSION_MAX_AGE_DAYS: int(1, 36_500, 365),
  /** Events older than this are purged; unset keeps events as long as their session. */
  RETENTION_EVENT_MAX_AGE_DAYS: optionalInt(1, 36_500),
  RETENTION_ARCHIVE_INSTEAD_OF_DELETE: booleanFlag(false),
  RETENTION_BATCH_SIZE: int(1, 100_000, 5_000),
  /** How often the retention purge runs; 0 turns the schedule off. */
  RETENTION_INTERVAL_MS: int(0, 7 * 24 * HOUR_MS, 6 * HOUR_MS),
  /**
   * What retention does with a whole events partition past RETENTION_EVENT_MAX_AGE_DAYS: drop
   * it, or archive it (detach and keep it as a plain table; docs/scaling.md says how to restore).
   */
  RETENTION_EVENT_PARTITIONS: z.enum(["drop", "archive"]).default("drop"),
  /** Days one time partition of events covers (new ranges; existing ones keep theirs). */
  EVENTS_PARTITION_DAYS: int(1, 366, 7),
  /** How many ranges past now are kept created ahead of time. */
  EVENTS_PARTITIONS_AHEAD: int(1, 520, 4),
  /** How often the coming partitions are checked (also once at start); 0 turns it off. */
  PARTITION_UPKEEP_INTERVAL_MS: int(0, 7 * 24 * HOUR_MS, HOUR_MS),
  /** How often jobs whose worker lease ran out are put back in the queue; 0 turns it off. */
  JOB_RECOVERY_INTERVAL_MS: int(0, 24 * HOUR_MS, 30_000),
  /** How often dashboard login links and web sessions a day past use are deleted; 0 turns it off. */
  WEB_SESSION_PURGE_INTERVAL_MS: int(0, 7 * 24 * HOUR_MS, HOUR_MS),
  /** How long a graceful stop may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: int(100, 10 * 60_000, 15_000),
  /**
   * How far V8 lets the heap grow past what its last full collection kept, in percent, before
   * it collects again (docs/performance.md, "Heap growth"); 0 leaves V8's own rule, which lets
   * it grow up to 4× under sustained ingest.
   */
  HEAP_GROWTH_PERCENT: int(0, 1_000, 20),
  /**
   * How long a verified API key is trusted without asking the database again. Revocations
   * reach every running server at once over its live connection; this bounds the time a
   * server that missed one (connection down) still accepts the key. 0 checks every request.
   */
  API_KEY_CACHE_MS: int(0, 10 * 60_000, 5_000),
  /**
   * While someone follows live events, how often the live bus reads the stream horizon even
   * when no notice came: a committed event whose notice was lost reaches followers at most
   * this much later.
   */
  LIVE_HORIZON_CHECK_MS: int(50, 60_000, 1_000),
  /** Create a local ingest+read key (written to $LOGBOOK_HOME/credentials) when no key exists. */
  BOOTSTRAP_KEY: booleanFlag(true),
  /**
   * A JSON price table (packages/api/README.md#cost) laid over the built-in one: models it
   * names take its prices. Read at start (a file that does not parse stops the server) and
   * again by `usage.reprice`.
   */
  LOGBOOK_PRICES_FILE: z.string().trim().min(1).optional(),
  /**
   * Secrets in event payloads and messages are replaced before they are stored (docs/redaction.md).
   * On by default; false stores events exactly as sent.
   */
  LOGBOOK_REDACTION: booleanFlag(true),
  /**
   * A JSON file of extra redaction rules, run after the built-in ones. Read at start: a file
   * that does not parse stops the server (exit 2, every problem listed).
   */
  LOGBOOK_REDACTION_RULES_FILE: z.string().trim().min(1).optional(),
  /** An `active` session with no event for this many minutes becomes `idle`. */
  SESSION_IDLE_AFTER_MINUTES: int(1, 7 * 24 * 60, 30),
  /** An open session (not paused) with no event for this many hours is ended (`terminated`). */
  SESSION_END_AFTER_HOURS: int(1, 365 * 24, 24),
  /** How often quiet sessions are settled; 0 turns it off. */
  SESSION_SWEEP_INTERVAL_MS: int(0, 24 * HOUR_MS, 60_000),
  /**
   * Where people reach the server, when that is not the listen address (a proxy, TLS in
   * front): login links start with it, and an https URL makes the session cookie Secure.
   */
  LOGBOOK_PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
    .transform((value) => value.replace(/\/+$/, ""))
    .optional(),
  /**
   * Deliver webhooks to private, loopback and link-local addresses too (a receiver on this
   * machine or network). Off: only public addresses, checked at subscription and again on
   * every delivery (docs/webhooks.md).
   */
  LOGBOOK_WEBHOOKS_ALLOW_PRIVATE: booleanFlag(false),
  /** Tries per webhook delivery, the first included. */
  LOGBOOK_WEBHOOKS_MAX_ATTEMPTS: int(1, 50, 8),
  /** Failed tries in a row after which a subscription is disabled. */
  LOGBOOK_WEBHOOKS_DISABLE_AFTER: int(1, 10_000, 20),
  /** Wait before the second try; doubled for each later one (with jitter), up to the max. */
  LOGBOOK_WEBHOOKS_BACKOFF_BASE_MS: int(10, HOUR_MS, 10_000),
  LOGBOOK_WEBHOOKS_BACKOFF_MAX_MS: int(10, 24 * HOUR_MS, HOUR_MS),
  /** Longest a receiver may take to answer. */
  LOGBOOK_WEBHOOKS_TIMEOUT_MS: int(100, 120_000, 10_000),
  /** How often the delivery worker looks for due deliveries; 0 turns delivery off on this server. */
  LOGBOOK_WEBHOOKS_POLL_MS: int(0, 60 * 60_000, 1_000),
  /** The built dashboard to serve at `/`. @default the `web` folder beside the server's `main.js` */
  LOGBOOK_WEB_ROOT: z.string().trim().min(1).optional(),
});

export type ServerEnv = z.infer<typeof serverEnvSchema>;

export interface ServerConfig {
  host: string;
  port: number;
  databaseUrl: string | undefined;
  /** A streaming replica of `databaseUrl` for the reads that may lag (docs/scaling.md). */
  databaseReadUrl: string | undefined;
  home: string;
  pool: PoolSettings;
  logLevel: ServerEnv["LOG_LEVEL"];
  bodyLimitBytes: number;
  bodyBudgetBytes: number;
  batchLimits: { maxCalls: number; maxEvents: number };
  authFailures: { limit: number; windowMs: number };
  apiKeyCacheMs: number;
  liveHorizonCheckMs: number;
  retention: { policy: RetentionPolicy; intervalMs: number; partitions: "drop" | "archive" };
  partitions: { rangeDays: number; ahead: number; intervalMs: number };
  jobRecoveryIntervalMs: number;
  webSessionPurgeIntervalMs: number;
  shutdownTimeoutMs: number;
  heapGrowthPercent: number;
  bootstrapKey: boolean;
  pricesFile: string | null;
  redaction: { enabled: boolean; rulesFile: string | null };
  inactivity: { policy: InactivityPolicy; intervalMs: number };
  publicUrl: string | undefined;
  webRoot: string;
  webhooks: WebhookOptions & { pollMs: number };
}

/** The dashboard's files: `dist/web` beside the built `dist/main.js` (the server's build copies them there). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("./web/", import.meta.url));

const SECRET_VARIABLES = new Set(["DATABASE_URL", "DATABASE_READ_URL"]);

export type ConfigResult = { ok: true; config: ServerConfig } | { ok: false; problems: string[] };

/** Parses the environment; on failure, one line per bad variable saying what is wrong with it. */
export function parseConfig(env: Record<string, string | undefined>): ConfigResult {
  // An empty variable means "not set" (so the default applies), as shells and .env files expect.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = serverEnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = toInputIssues(parsed.error, (path) => path || "environment").map((issue) => {
      // Never echo a connection string: it may hold a password.
      const given = env[issue.path];
      const shown =
        typeof given === "string" && !SECRET_VARIABLES.has(issue.path) ? ` (got ${JSON.stringify(given)})` : "";
      return `${issueLine(issue)}${shown}`;
    });
    return { ok: false, problems };
  }
  const e = parsed.data;
  if (e.DATABASE_READ_URL && !e.DATABASE_URL) {
    return {
      ok: false,
      problems: ["DATABASE_READ_URL: a replica needs its primary in DATABASE_URL (the embedded PostgreSQL has none)"],
    };
  }
  const policy = retentionPolicy.parse({
    sessionMaxAgeDays: e.RETENTION_SESSION_MAX_AGE_DAYS,
    eventMaxAgeDays: e.RETENTION_EVENT_MAX_AGE_DAYS ?? null,
    archiveInsteadOfDelete: e.RETENTION_ARCHIVE_INSTEAD_OF_DELETE,
    batchSize: e.RETENTION_BATCH_SIZE,
  });
  return {
    ok: true,
    config: {
      host: e.HOST,
      port: e.PORT,
      databaseUrl: e.DATABASE_URL,
      databaseReadUrl: e.DATABASE_READ_URL,
      home: e.LOGBOOK_HOME,
      pool: poolSettingsFromEnv(e),
      logLevel: e.LOG_LEVEL,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      bodyBudgetBytes: e.BODY_BUDGET_BYTES,
      batchLimits: { maxCalls: e.MAX_BATCH_CALLS, maxEvents: e.MAX_BATCH_EVENTS },
      authFailures: { limit: e.AUTH_FAILURE_LIMIT, windowMs: e.AUTH_FAILURE_WINDOW_MS },
      apiKeyCacheMs: e.API_KEY_CACHE_MS,
      liveHorizonCheckMs: e.LIVE_HORIZON_CHECK_MS,
      retention: { policy, intervalMs: e.RETENTION_INTERVAL_MS, partitions: e.RETENTION_EVENT_PARTITIONS },
      partitions: {
        rangeDays: e.EVENTS_PARTITION_DAYS,
        ahead: e.EVENTS_PARTITIONS_AHEAD,
        intervalMs: e.PARTITION_UPKEEP_INTERVAL_MS,
      },
      jobRecoveryIntervalMs: e.JOB_RECOVERY_INTERVAL_MS,
      webSessionPurgeIntervalMs: e.WEB_SESSION_PURGE_INTERVAL_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      heapGrowthPercent: e.HEAP_GROWTH_PERCENT,
      bootstrapKey: e.BOOTSTRAP_KEY,
      pricesFile: e.LOGBOOK_PRICES_FILE ?? null,
      redaction: { enabled: e.LOGBOOK_REDACTION, rulesFile: e.LOGBOOK_REDACTION_RULES_FILE ?? null },
      inactivity: {
        policy: { idleAfterMinutes: e.SESSION_IDLE_AFTER_MINUTES, endAfterHours: e.SESSION_END_AFTER_HOURS },
        intervalMs: e.SESSION_SWEEP_INTERVAL_MS,
      },
      publicUrl: e.LOGBOOK_PUBLIC_URL,
      webRoot: e.LOGBOOK_WEB_ROOT ?? DEFAULT_WEB_ROOT,
      webhooks: {
        allowPrivate: e.LOGBOOK_WEBHOOKS_ALLOW_PRIVATE,
        maxAttempts: e.LOGBOOK_WEBHOOKS_MAX_ATTEMPTS,
        disableAfterFailures: e.LOGBOOK_WEBHOOKS_DISABLE_AFTER,
        backoffBaseMs: e.LOGBOOK_WEBHOOKS_BACKOFF_BASE_MS,
        backoffMaxMs: e.LOGBOOK_WEBHOOKS_BACKOFF_MAX_MS,
        timeoutMs: e.LOGBOOK_WEBHOOKS_TIMEOUT_MS,
        pollMs: e.LOGBOOK_WEBHOOKS_POLL_MS,
      },
    },
  };
}
