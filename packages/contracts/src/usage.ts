import { z } from "zod";

import { dayOrDateTime, shortText, uuid, inputObject } from "./common.js";

// ---------------------------------------------------------------- price table

/**
 * A price in USD per million tokens. At most four decimals: costs are computed exactly
 * in units of 1e-10 USD per token (a price times 10,000), so a fifth decimal would be
 * silently rounded.
 */
const rate = () =>
  z
    .number({ error: "must be a number (USD per million tokens)" })
    .min(0, { error: "must not be negative" })
    .max(100_000, { error: "must be at most 100000 USD per million tokens" })
    .refine((value) => Math.abs(value * 10_000 - Math.round(value * 10_000)) < 1e-6, {
      error: "must have at most 4 decimals",
    });

const rates = {
  /** Uncached input tokens. */
  input: rate(),
  output: rate(),
  /** Cache writes with the default 5-minute lifetime. */
  cacheWrite5m: rate(),
  /** Cache writes with the 1-hour lifetime. */
  cacheWrite1h: rate(),
  /** Cache hits and refreshes. */
  cacheRead: rate(),
};

export const modelPrice = z.strictObject({
  /** The model id without date or provider decoration, e.g. `claude-sonnet-4-5`. */
  id: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,99}$/, {
    error: "must be a lowercase model id (letters, digits, . and -), e.g. claude-sonnet-4-5",
  }),
  /** Other names of the same model (after the same normalisation), e.g. `claude-opus-4-0`. */
  aliases: z.array(z.string().min(1).max(100)).max(20).optional(),
  ...rates,
  /**
   * Rates for a request whose prompt (input + cache writes + cache reads) is over
   * `thresholdTokens`: every token of that request, output included, takes them.
   */
  longContext: z.strictObject({ thresholdTokens: z.number().int().min(1), ...rates }).optional(),
});
export type ModelPrice = z.infer<typeof modelPrice>;

export const priceTable = z.strictObject({
  /** Changes whenever a price changes; stored on nothing, reported by `usage.prices`. */
  version: z.string().min(1).max(100),
  /** The day the prices were checked (YYYY-MM-DD). */
  date: z.iso.date({ error: "must be a date, YYYY-MM-DD" }),
  /** Where the prices come from. */
  source: z.string().min(1).max(1000),
  models: z.array(modelPrice).max(1000),
});
export type PriceTable = z.infer<typeof priceTable>;

export const priceTableOutput = z.object({
  version: z.string(),
  date: z.string(),
  source: z.string(),
  /** The override file the server read, when one is set (LOGBOOK_PRICES_FILE). */
  overrideFile: z.string().nullable(),
  models: z.array(modelPrice),
});
export type PriceTableOutput = z.infer<typeof priceTableOutput>;

export const repriceResult = z.object({
  priceTableVersion: z.string(),
  /** Messages whose cost changed (a cost Claude Code reported is kept as it is). */
  messagesRepriced: z.number().int(),
  /** Sessions whose cost or unpriced count changed. */
  sessionsUpdated: z.number().int(),
  /** Messages with tokens still without a price after the run, and their models. */
  unpricedMessages: z.number().int(),
  unpricedModels: z.array(z.string()),
});
export type RepriceResult = z.infer<typeof repriceResult>;

// ---------------------------------------------------------------- usage reports

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone name (`Europe/Paris`, `UTC`); offsets like `+02:00` are not zones. */
export const timeZone = () =>
  z
    .string()
    .max(64)
    .regex(/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/, {
      error: "must be an IANA time zone name, e.g. Europe/Paris or UTC",
    })
    .refine(isTimeZone, { error: "is not a known IANA time zone, e.g. Europe/Paris or UTC" });

export const USAGE_GROUPINGS = ["day", "week", "month", "session", "project", "model", "machine"] as const;
export type UsageGrouping = (typeof USAGE_GROUPINGS)[number];

export const usageReportInput = inputObject({
  /** Days, ISO weeks (from Monday) and months are calendar periods in `timeZone`. */
  groupBy: z.enum(USAGE_GROUPINGS),
  timeZone: timeZone().default("UTC"),
  /**
   * Messages created in `[from, to)`. A day (`2026-11-30`) is its midnight in `timeZone`,
   * so the first and last day rows of a report bounded by days are whole days.
   */
  from: dayOrDateTime().optional(),
  to: dayOrDateTime().optional(),
  projectId: uuid().optional(),
  /** One session; with `includeSubagents` (the default) its whole tree below it too. */
  sessionId: uuid().optional(),
  includeSubagents: z.boolean().default(true),
  machineId: shortText().optional(),
  model: shortText().optional(),
  limit: z.number().int().min(1).max(1000).default(100),
});
export type UsageReportInput = z.output<typeof usageReportInput>;
export type UsageReportQuery = z.output<typeof usageReportInput>;

const usageTotals = {
  /** Assistant messages (API responses, one per `message.id`) counted. */
  messages: z.number().int(),
  sessions: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
  /** All cache writes; `cacheCreation1hTokens` of them with the 1-hour lifetime. */
  cacheCreationTokens: z.number().int(),
  cacheCreation1hTokens: z.number().int(),
  totalTokens: z.number().int(),
  /** Cost of the priced messages (USD). */
  costUsd: z.number(),
  /** Messages with tokens but no price (unknown model): their cost is unknown, not 0. */
  unpricedMessages: z.number().int(),
};

export const usageReportRow = z.object({
  /**
   * The group: a day `YYYY-MM-DD`, a week's Monday `YYYY-MM-DD`, a month `YYYY-MM`, a
   * session id, a project id (`none` without one), a model (`unknown` without one) or a
   * machine id (`unknown` without one).
   */
  key: z.string(),
  /** What to show for the key: a session's title, a project's path; null otherwise. */
  label: z.string().nullable(),
  ...usageTotals,
  models: z.array(z.string()),
});
export type UsageReportRow = z.infer<typeof usageReportRow>;

export const usageReport = z.object({
  groupBy: z.enum(USAGE_GROUPINGS),
  timeZone: z.string(),
  /** The range as instants (a day bound resolved in `timeZone`); null when open. */
  from: z.string().nullable(),
  to: z.string().nullable(),
  /**
   * Periods oldest first; other groups most expensive first. When there are more groups
   * than `limit`, the most recent periods are kept, and the most expensive other groups.
   */
  rows: z.array(usageReportRow),
  /** How many groups the filters select: more than `rows.length` when the limit cut some. */
  groupCount: z.number().int(),
  /** Over every message the filters select (not only the rows returned). */
  totals: z.object(usageTotals),
  priceTableVersion: z.string(),
});
export type UsageReport = z.infer<typeof usageReport>;
