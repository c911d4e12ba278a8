import type {
  ExportLogsRequest,
  ExportMetricsRequest,
  ExportTraceRequest,
  IngestEvent,
  OtlpAnyValue,
  OtlpDataPoint,
  OtlpKeyValue,
  OtlpLogRecord,
  OtlpMetric,
  OtlpSpan,
} from "@logbook/contracts";
import { v5 as uuidv5 } from "uuid";

/**
 * Pure mapping from OTLP export requests (the OTLP/JSON shape of @logbook/contracts) to
 * what Logbook keeps: log records and spans become events of the session named by their
 * `session.id` attribute, metric data points become rows of a time series. Everything is
 * deterministic (ids are name-based UUIDs of what a record is), so an exporter's retry, or
 * the same record sent once as JSON and once as protobuf, is stored once.
 */

/** Namespace of the name-based ids of OTel records (a fixed random UUID: ours alone). */
const OTEL_NAMESPACE = "5f0c7a52-3d0e-4c5b-9a47-0e2b8d6f1c39";

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;
const MAX_MESSAGE = 10_000;

export type Attributes = Record<string, unknown>;

/** An attribute value as plain JSON: integers as numbers while exact, else as decimal text. */
export function anyValueToJson(value: OtlpAnyValue | undefined): unknown {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) {
    const n = Number(value.intValue);
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValueToJson);
  if (value.kvlistValue !== undefined) return attributesToJson(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
}

export function attributesToJson(list: OtlpKeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) out[kv.key] = anyValueToJson(kv.value);
  return out;
}

/** Unix nanoseconds (decimal text or number) as an ISO time; undefined for 0, absent or out of range. */
export function nanosToIso(nanos: string | number | undefined): string | undefined {
  if (nanos === undefined) return undefined;
  const ms = Number(BigInt(nanos) / 1_000_000n);
  if (ms <= 0 || ms > 8.64e15) return undefined;
  return new Date(ms).toISOString();
}

/** JSON with object keys sorted: the same record gives the same text, whatever its key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export const nameUuid = (value: unknown): string => uuidv5(canonicalJson(value), OTEL_NAMESPACE);

const str = (value: unknown): string | undefined => (typeof value === "string" && value.length > 0 ? value : undefined);
const clip = (value: string | undefined) => (value && value.length > MAX_MESSAGE ? value.slice(0, MAX_MESSAGE) : value);
const defined = <T extends Record<string, unknown>>(object: T): Partial<T> =>
  Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>;

/** Claude Code names the session in the record's attributes; a resource attribute also counts. */
function sessionOf(attributes: Attributes, resource: Attributes): string | undefined {
  return str(attributes["session.id"]) ?? str(resource["session.id"]);
}

/** One thing of a request that could not be kept, and why (OTLP partial success). */
export interface Refusal {
  reason: string;
}

export type Mapped<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

const NO_SESSION: Refusal = { reason: "no session.id attribute (on the record or its resource)" };

function logEventType(record: OtlpLogRecord, attributes: Attributes): string {
  const body = record.body?.stringValue;
  const eventName = str(attributes["event.name"]);
  // Claude Code: body "claude_code.api_request", attribute event.name "api_request".
  for (const candidate of [
    record.eventName,
    body,
    eventName && !eventName.includes(".") ? `claude_code.${eventName}` : eventName,
  ]) {
    if (candidate && TYPE_NAME.test(candidate)) return candidate;
  }
  return "otel.log";
}

function logLevel(eventType: string, record: OtlpLogRecord, attributes: Attributes): "info" | "warning" | "error" {
  if (eventType === "claude_code.api_error") return "error";
  if (eventType === "claude_code.tool_result" && (attributes.success === false || attributes.success === "false"))
    return "warning";
  const severity = record.severityNumber ?? 0;
  return severity >= 17 ? "error" : severity >= 13 ? "warning" : "info";
}

/** A log record as an event of its session. */
export function logRecordToEvent(
  record: OtlpLogRecord,
  resource: Attributes,
  scope: { name?: string | undefined; version?: string | undefined } | undefined,
): Mapped<IngestEvent> {
  const attributes = attributesToJson(record.attributes);
  const session = sessionOf(attributes, resource);
  if (!session) return { ok: false, refusal: NO_SESSION };
  const eventType = logEventType(record, attributes);
  const stamped = str(attributes["event.timestamp"]);
  const occurredAt =
    nanosToIso(record.timeUnixNano) ??
    (stamped && !Number.isNaN(Date.parse(stamped)) ? new Date(stamped).toISOString() : undefined) ??
    nanosToIso(record.observedTimeUnixNano);
  const payload = defined({
    otel: "log",
    eventName: eventType,
    body: record.body ? anyValueToJson(record.body) : undefined,
    attributes,
    resource,
    scope: scope ? defined({ name: scope.name, version: scope.version }) : undefined,
    timeUnixNano: record.timeUnixNano === undefined ? undefined : String(record.timeUnixNano),
    observedTimeUnixNano: record.observedTimeUnixNano === undefined ? undefined : String(record.observedTimeUnixNano),
    severityNumber: record.severityNumber,
    severityText: record.severityText,
    traceId: record.traceId || undefined,
    spanId: record.spanId || undefined,
  });
  const message = clip(str(attributes.prompt) ?? str(attributes.error));
  return {
    ok: true,
    value: defined({
      id: nameUuid(["log", session, eventType, occurredAt ?? null, attributes, anyValueToJson(record.body)]),
      externalSessionId: session,
      eventType,
      source: "otel" as const,
      level: logLevel(eventType, record, attributes),
      message,
      toolName: clip(str(attributes.tool_name))?.slice(0, 255),
      toolUseId: str(attributes.tool_use_id)?.slice(0, 255),
      occurredAt,
      payload,
    }) as IngestEvent,
  };
}

/** A span as an event of its session (Claude Code's traces are beta; the span is kept whole). */
export function spanToEvent(
  span: OtlpSpan,
  resource: Attributes,
  scope: { name?: string | undefined; version?: string | undefined } | undefined,
): Mapped<IngestEvent> {
  const attributes = attributesToJson(span.attributes);
  const session = sessionOf(attributes, resource);
  if (!session) return { ok: false, refusal: NO_SESSION };
  const eventType = span.name && TYPE_NAME.test(span.name) ? span.name : "otel.span";
  const start = nanosToIso(span.startTimeUnixNano);
  const durationNanos =
    span.startTimeUnixNano !== undefined && span.endTimeUnixNano !== undefined
      ? BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)
      : undefined;
  const identity =
    span.traceId && span.spanId
      ? ["span", span.traceId.toLowerCase(), span.spanId.toLowerCase()]
      : ["span", session, eventType, start ?? null, attributes];
  return {
    ok: true,
    value: defined({
      id: nameUuid(identity),
      externalSessionId: session,
      eventType,
      source: "otel" as const,
      level: span.status?.code === 2 ? ("error" as const) : ("info" as const),
      message: clip(str(span.status?.message)),
      toolName: str(attributes.tool_name)?.slice(0, 255),
      toolUseId: str(attributes.tool_use_id)?.slice(0, 255),
      occurredAt: start,
      payload: defined({
        otel: "span",
        name: span.name,
        traceId: span.traceId || undefined,
        spanId: span.spanId || undefined,
        parentSpanId: span.parentSpanId || undefined,
        kind: span.kind,
        startTimeUnixNano: span.startTimeUnixNano === undefined ? undefined : String(span.startTimeUnixNano),
        endTimeUnixNano: span.endTimeUnixNano === undefined ? undefined : String(span.endTimeUnixNano),
        durationMs: durationNanos === undefined || durationNanos < 0n ? undefined : Number(durationNanos) / 1e6,
        attributes,
        status: span.status,
        resource,
        scope: scope ? defined({ name: scope.name, version: scope.version }) : undefined,
      }),
    }) as IngestEvent,
  };
}

/** One stored metric data point (see the otel_metric_points table). */
export interface MetricPointRow {
  id: string;
  name: string;
  kind: "gauge" | "sum" | "histogram" | "exponential_histogram" | "summary";
  unit: string | null;
  temporality: "delta" | "cumulative" | null;
  external_session_id: string | null;
  user_id: string | null;
  model: string | null;
  value: number | null;
  count: string | null;
  start_time: string | null;
  time: string;
  attributes: Attributes;
  resource: Attributes;
}

const TEMPORALITY: Record<number, "delta" | "cumulative"> = { 1: "delta", 2: "cumulative" };

/** A double as stored: NaN and the infinities (which no JSON reader takes back) are kept as no value. */
function finite(value: number | string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The longest name, unit, session, user or model a data point may carry (OTel's own limit for names). */
const MAX_POINT_TEXT = 255;

/**
 * Why a data point's text columns cannot be stored as given, if they cannot: PostgreSQL's
 * text refuses NUL, and an indexed value must stay small. Said per point, like a log record
 * without a session, never a failed export with the points before it kept.
 */
function pointTextProblem(row: MetricPointRow): string | undefined {
  const fields: Array<[string, string | null]> = [
    ["name", row.name],
    ["unit", row.unit],
    ["session.id", row.external_session_id],
    ["user", row.user_id],
    ["model", row.model],
  ];
  for (const [field, value] of fields) {
    if (value === null) continue;
    if (value.includes("\u0000")) return `${field}: must not contain NUL characters`;
    if (value.length > MAX_POINT_TEXT) return `${field}: at most ${MAX_POINT_TEXT} characters`;
  }
  return undefined;
}

/** Every data point of a metric, or why one cannot be kept. */
export function metricToPoints(metric: OtlpMetric, resource: Attributes): Array<Mapped<MetricPointRow>> {
  const shapes: Array<[MetricPointRow["kind"], { dataPoints?: OtlpDataPoint[] | undefined } | undefined, number?]> = [
    ["gauge", metric.gauge],
    ["sum", metric.sum, metric.sum?.aggregationTemporality],
    ["histogram", metric.histogram, metric.histogram?.aggregationTemporality],
    ["exponential_histogram", metric.exponentialHistogram, metric.exponentialHistogram?.aggregationTemporality],
    ["summary", metric.summary],
  ];
  const out: Array<Mapped<MetricPointRow>> = [];
  for (const [kind, data, temporality] of shapes) {
    if (!data) continue;
    for (const point of data.dataPoints ?? []) {
      const attributes = attributesToJson(point.attributes);
      const time = nanosToIso(point.timeUnixNano);
      if (!time) {
        out.push({ ok: false, refusal: { reason: `a data point of ${metric.name} has no timeUnixNano` } });
        continue;
      }
      const startTime = nanosToIso(point.startTimeUnixNano) ?? null;
      const isNumber = kind === "gauge" || kind === "sum";
      const value = isNumber ? finite(point.asDouble ?? point.asInt) : finite(point.sum);
      const row: MetricPointRow = {
        id: nameUuid(["metric", metric.name, kind, attributes, resource, startTime, time]),
        name: metric.name,
        kind,
        unit: metric.unit || null,
        temporality: temporality === undefined ? null : (TEMPORALITY[temporality] ?? null),
        external_session_id: sessionOf(attributes, resource) ?? null,
        user_id:
          str(attributes["user.account_uuid"]) ??
          str(attributes["user.id"]) ??
          str(resource["user.account_uuid"]) ??
          str(resource["user.id"]) ??
          null,
        model: str(attributes.model) ?? null,
        value,
        count: isNumber || point.count === undefined ? null : String(point.count),
        start_time: startTime,
        time,
        attributes,
        resource,
      };
      const problem = pointTextProblem(row);
      out.push(problem ? { ok: false, refusal: { reason: problem } } : { ok: true, value: row });
    }
  }
  return out;
}

/** Walks a request's records with their resource and scope. */
export function* logRecordsOf(request: ExportLogsRequest) {
  for (const rl of request.resourceLogs ?? []) {
    const resource = attributesToJson(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? [])
      for (const record of sl.logRecords ?? []) yield { record, resource, scope: sl.scope };
  }
}

export function* spansOf(request: ExportTraceRequest) {
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributesToJson(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) yield { span, resource, scope: ss.scope };
  }
}

export function* metricsOf(request: ExportMetricsRequest) {
  for (const rm of request.resourceMetrics ?? []) {
    const resource = attributesToJson(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) for (const metric of sm.metrics ?? []) yield { metric, resource };
  }
}
