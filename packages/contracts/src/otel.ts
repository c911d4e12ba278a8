import { z } from "zod";

import { isoDateTime, shortText, uuid, storedJsonObject, storedDateTime, inputObject } from "./common.js";
import { externalId } from "./sessions.js";

/**
 * OTLP/HTTP export requests (`POST /v1/logs`, `/v1/metrics`, `/v1/traces`) in the OTLP/JSON
 * shape: lowerCamelCase fields, 64-bit integers as decimal strings (numbers accepted),
 * enums as integers, trace and span ids as hex. A protobuf body is decoded with the
 * OpenTelemetry project's generated definitions and brought to this same shape before it
 * is parsed here, so both encodings meet one contract. Loose objects: fields a newer
 * opentelemetry-proto adds pass through untouched.
 */

const uint64 = z.union([
  z.string().regex(/^\d{1,20}$/, { error: "must be an unsigned 64-bit integer (decimal string)" }),
  z.number().int().nonnegative(),
]);
const int64 = z.union([
  z.string().regex(/^-?\d{1,19}$/, { error: "must be a 64-bit integer (decimal string)" }),
  z.number().int(),
]);
/** A double; OTLP/JSON spells the values JSON has no number for as strings. */
const double = z.union([z.number(), z.literal(["NaN", "Infinity", "-Infinity"])]);
const hexId = (digits: number) =>
  z
    .string()
    .regex(new RegExp(`^([0-9a-fA-F]{${digits}})?$`), { error: `must be ${digits} hex digits` })
    .optional();

export interface OtlpAnyValue {
  stringValue?: string | undefined;
  boolValue?: boolean | undefined;
  intValue?: string | number | undefined;
  doubleValue?: number | "NaN" | "Infinity" | "-Infinity" | undefined;
  arrayValue?: { values?: OtlpAnyValue[] | undefined } | undefined;
  kvlistValue?: { values?: OtlpKeyValue[] | undefined } | undefined;
  bytesValue?: string | undefined;
}
export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue | undefined;
}

export const otlpAnyValue: z.ZodType<OtlpAnyValue> = z.lazy(() =>
  z.looseObject({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: int64.optional(),
    doubleValue: double.optional(),
    arrayValue: z.looseObject({ values: z.array(otlpAnyValue).optional() }).optional(),
    kvlistValue: z.looseObject({ values: z.array(otlpKeyValue).optional() }).optional(),
    bytesValue: z.string().optional(),
  }),
);
export const otlpKeyValue: z.ZodType<OtlpKeyValue> = z.lazy(() =>
  z.looseObject({ key: z.string(), value: otlpAnyValue.optional() }),
);
const attributes = z.array(otlpKeyValue).optional();

const otlpResource = z.looseObject({ attributes }).optional();
const otlpScope = z.looseObject({ name: z.string().optional(), version: z.string().optional(), attributes }).optional();

type OptionalList<K extends string, T extends z.ZodType> = Record<K, z.ZodOptional<z.ZodArray<T>>>;
const optionalList = <K extends string, T extends z.ZodType>(key: K, item: T) =>
  ({ [key]: z.array(item).optional() }) as OptionalList<K, T>;

/** OTLP's nesting, the same for every signal: resources, each with scopes, each with items. */
const byResourceAndScope = <R extends string, S extends string, I extends string, T extends z.ZodType>(
  resourcesKey: R,
  scopesKey: S,
  itemsKey: I,
  item: T,
) => {
  const scope = z.looseObject({ scope: otlpScope, ...optionalList(itemsKey, item) });
  return z.looseObject(
    optionalList(resourcesKey, z.looseObject({ resource: otlpResource, ...optionalList(scopesKey, scope) })),
  );
};

export const otlpLogRecord = z.looseObject({
  timeUnixNano: uint64.optional(),
  observedTimeUnixNano: uint64.optional(),
  severityNumber: z.number().int().optional(),
  severityText: z.string().optional(),
  body: otlpAnyValue.optional(),
  attributes,
  eventName: z.string().optional(),
  traceId: hexId(32),
  spanId: hexId(16),
});
export type OtlpLogRecord = z.infer<typeof otlpLogRecord>;

export const exportLogsRequest = byResourceAndScope("resourceLogs", "scopeLogs", "logRecords", otlpLogRecord);
export type ExportLogsRequest = z.infer<typeof exportLogsRequest>;

const numberDataPoint = z.looseObject({
  attributes,
  startTimeUnixNano: uint64.optional(),
  timeUnixNano: uint64.optional(),
  asDouble: double.optional(),
  asInt: int64.optional(),
});
const histogramDataPoint = z.looseObject({
  attributes,
  startTimeUnixNano: uint64.optional(),
  timeUnixNano: uint64.optional(),
  count: uint64.optional(),
  sum: double.optional(),
});
export type OtlpDataPoint = z.infer<typeof numberDataPoint> & z.infer<typeof histogramDataPoint>;

export const otlpMetric = z.looseObject({
  name: z.string(),
  description: z.string().optional(),
  unit: z.string().optional(),
  gauge: z.looseObject({ dataPoints: z.array(numberDataPoint).optional() }).optional(),
  sum: z
    .looseObject({
      dataPoints: z.array(numberDataPoint).optional(),
      aggregationTemporality: z.number().int().optional(),
      isMonotonic: z.boolean().optional(),
    })
    .optional(),
  histogram: z
    .looseObject({
      dataPoints: z.array(histogramDataPoint).optional(),
      aggregationTemporality: z.number().int().optional(),
    })
    .optional(),
  exponentialHistogram: z
    .looseObject({
      dataPoints: z.array(histogramDataPoint).optional(),
      aggregationTemporality: z.number().int().optional(),
    })
    .optional(),
  summary: z.looseObject({ dataPoints: z.array(histogramDataPoint).optional() }).optional(),
});
export type OtlpMetric = z.infer<typeof otlpMetric>;

export const exportMetricsRequest = byResourceAndScope("resourceMetrics", "scopeMetrics", "metrics", otlpMetric);
export type ExportMetricsRequest = z.infer<typeof exportMetricsRequest>;

export const otlpSpan = z.looseObject({
  traceId: hexId(32),
  spanId: hexId(16),
  parentSpanId: hexId(16),
  name: z.string().optional(),
  kind: z.number().int().optional(),
  startTimeUnixNano: uint64.optional(),
  endTimeUnixNano: uint64.optional(),
  attributes,
  status: z.looseObject({ code: z.number().int().optional(), message: z.string().optional() }).optional(),
});
export type OtlpSpan = z.infer<typeof otlpSpan>;

export const exportTraceRequest = byResourceAndScope("resourceSpans", "scopeSpans", "spans", otlpSpan);
export type ExportTraceRequest = z.infer<typeof exportTraceRequest>;

export const OTLP_SIGNALS = ["logs", "metrics", "traces"] as const;
export type OtlpSignal = (typeof OTLP_SIGNALS)[number];

/**
 * What an export stored, in OTLP's partial-success terms: items refused (with why) while
 * the rest were kept. `rejected` 0 and no message is full success. `replacedCharacters`:
 * characters PostgreSQL cannot hold (NUL, lone surrogates) the stored items carry as U+FFFD.
 */
export interface OtlpExportResult {
  accepted: number;
  rejected: number;
  errorMessage?: string;
  replacedCharacters: number;
}

/* ---------- Reading it back ---------- */

export const METRIC_KINDS = ["gauge", "sum", "histogram", "exponential_histogram", "summary"] as const;

/** Metric points kept from `/v1/metrics`: by session, user, model, name and time. */
export const listMetricPointsInput = inputObject({
  sessionId: uuid().optional(),
  /** The agent's own session id (Claude Code's `session.id`), also for points whose session has no events yet. */
  externalSessionId: externalId().optional(),
  /** `user.account_uuid`, else `user.id`. */
  userId: shortText().optional(),
  model: shortText().optional(),
  /** Metric name, e.g. `claude_code.cost.usage`. */
  name: shortText().optional(),
  from: storedDateTime().optional(),
  to: storedDateTime().optional(),
  limit: z.number().int().min(1).max(1000).default(200),
}).refine((input) => !(input.sessionId && input.externalSessionId), {
  error: "give sessionId or externalSessionId, not both",
  path: ["sessionId"],
});
export type ListMetricPointsInput = z.output<typeof listMetricPointsInput>;

export const metricPoint = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(METRIC_KINDS),
  unit: z.string().nullable(),
  /** "delta" or "cumulative" (sums and histograms), else null. */
  temporality: z.enum(["delta", "cumulative"]).nullable(),
  externalSessionId: z.string().nullable(),
  userId: z.string().nullable(),
  model: z.string().nullable(),
  /** The point's value (gauge, sum); a histogram's or summary's sum. */
  value: z.number().nullable(),
  /** A histogram's or summary's count. */
  count: z.number().nullable(),
  startTime: isoDateTime().nullable(),
  time: isoDateTime(),
  attributes: storedJsonObject(),
  resource: storedJsonObject(),
});
export type MetricPoint = z.infer<typeof metricPoint>;
export const metricPointList = z.array(metricPoint);

export const telemetryUsageInput = inputObject({ sessionId: uuid() });

const requestTotals = z.object({
  requests: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
  cacheCreationTokens: z.number().int(),
  /** USD as Claude Code reported it (decimal text), summed. */
  costUsd: z.string(),
});

/**
 * A session's `claude_code.api_request` events and the rule that keeps them from counting
 * twice: a request a transcript message of the session (or of its subagents) already
 * carries (same request id) is counted there; the rest are counted here.
 */
export const telemetryUsage = z.object({
  sessionId: z.string(),
  /** Every api_request event of the session. */
  reported: requestTotals,
  /** Those no transcript message carries: what OTel adds to the session's own counters. */
  otelOnly: requestTotals,
  /** The session's counters (from transcript messages) plus `otelOnly`. */
  total: z.object({
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    cacheReadTokens: z.number().int(),
    cacheCreationTokens: z.number().int(),
    costUsd: z.string(),
  }),
});
export type TelemetryUsage = z.infer<typeof telemetryUsage>;
