import { z } from "zod";

import { inputObject } from "./common.js";

/**
 * Retention policy. Sessions in a terminal state whose end is older than
 * `sessionMaxAgeDays` go (with all their children and records), or are archived when
 * `archiveInsteadOfDelete`. Events older than `eventMaxAgeDays` go (off when null).
 */
export const retentionPolicy = z.object({
  sessionMaxAgeDays: z.number().int().min(1).max(36_500).default(365),
  eventMaxAgeDays: z.number().int().min(1).max(36_500).nullable().default(null),
  archiveInsteadOfDelete: z.boolean().default(false),
  /**
   * Root sessions looked at per batch, and about how many events one delete transaction
   * (or, for old events, one statement) takes: small batches keep locks short so ingest goes on.
   */
  batchSize: z.number().int().min(1).max(100_000).default(5_000),
});
export type RetentionPolicy = z.infer<typeof retentionPolicy>;

/** Overrides for one run: only the keys given replace the server's policy (no defaults here). */
export const retentionPolicyOverride = inputObject({
  sessionMaxAgeDays: z.number().int().min(1).max(36_500).optional(),
  eventMaxAgeDays: z.number().int().min(1).max(36_500).nullable().optional(),
  archiveInsteadOfDelete: z.boolean().optional(),
  batchSize: z.number().int().min(1).max(100_000).optional(),
});

export const retentionRunInput = inputObject({
  /** Count what would go without changing anything. */
  dryRun: z.boolean().default(true),
  policy: retentionPolicyOverride.optional(),
});
export type RetentionRunInput = z.output<typeof retentionRunInput>;

export const retentionReport = z.object({
  dryRun: z.boolean(),
  /** False when another process held the retention lock: nothing was done. */
  ran: z.boolean(),
  policy: retentionPolicy,
  sessions: z.number().int(),
  sessionsArchived: z.number().int(),
  events: z.number().int(),
  messages: z.number().int(),
  files: z.number().int(),
  steps: z.number().int(),
  artifacts: z.number().int(),
  /** OpenTelemetry metric points (`POST /v1/metrics`) past their age. */
  metricPoints: z.number().int(),
  batches: z.number().int(),
  durationMs: z.number(),
});
export type RetentionReport = z.infer<typeof retentionReport>;
