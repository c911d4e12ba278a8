import {
  ingestEvent,
  LIMITS,
  summarizeIssues,
  toInputIssues,
  type ExportLogsRequest,
  type ExportMetricsRequest,
  type ExportTraceRequest,
  type IngestEvent,
  type ListMetricPointsInput,
  type MetricPoint,
  type OtlpExportResult,
  type ParsedIngestEvent,
  type TelemetryUsage,
} from "@logbook/contracts";
import type { Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { notFound } from "../errors.js";
import { EventService } from "../events/event-service.js";
import { returnedRow } from "../invariants.js";
import { cleanText, sanitizeJsonForPostgres, unstorableCharacters } from "../json.js";
import {
  logRecordToEvent,
  logRecordsOf,
  metricToPoints,
  metricsOf,
  spanToEvent,
  spansOf,
  type Mapped,
  type MetricPointRow,
} from "./otlp-records.js";

/** Metric points written per statement. */
const POINT_CHUNK = 500;

/** Says what was refused, once per reason, with counts (OTLP's partial-success `error_message`). */
function refusalMessage(reasons: Map<string, number>, noun: string): string | undefined {
  if (reasons.size === 0) return undefined;
  return [...reasons].map(([reason, count]) => `${count} ${noun}${count === 1 ? "" : "s"}: ${reason}`).join("; ");
}

function tally<T>(items: Iterable<Mapped<T>>, noun: string): { kept: T[]; rejected: number; message?: string } {
  const kept: T[] = [];
  const reasons = new Map<string, number>();
  let rejected = 0;
  for (const item of items) {
    if (item.ok) kept.push(item.value);
    else {
      rejected++;
      reasons.set(item.refusal.reason, (reasons.get(item.refusal.reason) ?? 0) + 1);
    }
  }
  const message = refusalMessage(reasons, noun);
  return message ? { kept, rejected, message } : { kept, rejected };
}

/** An event the ingest contract takes, or why not (a field too long, a bad id...). */
function parseEvent(event: IngestEvent): Mapped<ParsedIngestEvent> {
  const parsed = ingestEvent.safeParse(event);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, refusal: { reason: summarizeIssues(toInputIssues(parsed.error)) } };
}

const DIGITS = `'^[0-9]{1,18}$'`;
const DECIMAL = `'^[0-9]{1,12}(\\.[0-9]{1,20}){0,1}([eE][-+]{0,1}[0-9]{1,3}){0,1}$'`;
/** An attribute as a number, 0 when absent or not a number (Claude Code sends numbers as text). */
const tokens = (key: string) => `CASE WHEN r.a->>'${key}' ~ ${DIGITS} THEN (r.a->>'${key}')::bigint ELSE 0 END`;
const cost = `CASE WHEN r.a->>'cost_usd' ~ ${DECIMAL} THEN round((r.a->>'cost_usd')::numeric, 10) ELSE 0 END`;
const totals = (filter: string) => `
  count(*) FILTER (WHERE ${filter}) AS requests,
  coalesce(sum(${tokens("input_tokens")}) FILTER (WHERE ${filter}), 0) AS input_tokens,
  coalesce(sum(${tokens("output_tokens")}) FILTER (WHERE ${filter}), 0) AS output_tokens,
  coalesce(sum(${tokens("cache_read_tokens")}) FILTER (WHERE ${filter}), 0) AS cache_read_tokens,
  coalesce(sum(${tokens("cache_creation_tokens")}) FILTER (WHERE ${filter}), 0) AS cache_creation_tokens,
  trim_scale(coalesce(sum(${cost}) FILTER (WHERE ${filter}), 0))::text AS cost_usd`;

interface TotalsRow {
  requests: string | number;
  input_tokens: string | number;
  output_tokens: string | number;
  cache_read_tokens: string | number;
  cache_creation_tokens: string | number;
  cost_usd: string;
}

const toTotals = (row: TotalsRow) => ({
  requests: Number(row.requests),
  inputTokens: Number(row.input_tokens),
  outputTokens: Number(row.output_tokens),
  cacheReadTokens: Number(row.cache_read_tokens),
  cacheCreationTokens: Number(row.cache_creation_tokens),
  costUsd: row.cost_usd,
});

/**
 * OpenTelemetry intake: Claude Code's OTLP exports (already decoded to the OTLP/JSON shape)
 * stored as events (logs, spans) through the ordinary ingest, and as metric points; and the
 * reads over them.
 */
export class OtelService {
  private readonly knex: Knex;
  private readonly events: EventService;

  constructor(deps: CoreDeps, events?: EventService) {
    this.knex = deps.knex;
    this.events = events ?? new EventService(deps);
  }

  /** Log records become events of the session named by `session.id`; records without one are refused. */
  async ingestLogs(request: ExportLogsRequest): Promise<OtlpExportResult> {
    const mapped = [...logRecordsOf(request)].map(({ record, resource, scope }) => {
      const event = logRecordToEvent(record, resource, scope);
      return event.ok ? parseEvent(event.value) : event;
    });
    return this.storeEvents(tally(mapped, "log record"));
  }

  /** Spans become events of their session, like log records. */
  async ingestTraces(request: ExportTraceRequest): Promise<OtlpExportResult> {
    const mapped = [...spansOf(request)].map(({ span, resource, scope }) => {
      const event = spanToEvent(span, resource, scope);
      return event.ok ? parseEvent(event.value) : event;
    });
    return this.storeEvents(tally(mapped, "span"));
  }

  private async storeEvents(result: {
    kept: ParsedIngestEvent[];
    rejected: number;
    message?: string;
  }): Promise<OtlpExportResult> {
    let replacedCharacters = 0;
    for (let i = 0; i < result.kept.length; i += LIMITS.maxBatch) {
      // An event's fields (session, message, tool) are copies of the record's attributes,
      // which its payload keeps whole: only the payload is counted.
      const stored = await this.events.ingest(
        { events: result.kept.slice(i, i + LIMITS.maxBatch) },
        { fieldsFromPayload: true },
      );
      replacedCharacters += stored.replacedCharacters;
    }
    return {
      accepted: result.kept.length,
      rejected: result.rejected,
      ...(result.message ? { errorMessage: result.message } : {}),
      replacedCharacters,
    };
  }

  /** Metric data points, one row each; a retried export is stored once. */
  async ingestMetrics(request: ExportMetricsRequest): Promise<OtlpExportResult> {
    const mapped = [...metricsOf(request)].flatMap(({ metric, resource }) => metricToPoints(metric, resource));
    const { kept, rejected, message } = tally(mapped, "data point");
    let replacedCharacters = 0;
    for (let i = 0; i < kept.length; i += POINT_CHUNK) {
      const chunk = kept.slice(i, i + POINT_CHUNK);
      // NUL was refused per point (metricToPoints); a lone surrogate in a text column is
      // stored as U+FFFD like one in the JSON, and counted (the session, user and model
      // columns are copies of attributes, counted there).
      const rows = chunk.map((row) => ({
        ...row,
        name: cleanText(row.name),
        unit: row.unit === null ? null : cleanText(row.unit),
        external_session_id: row.external_session_id === null ? null : cleanText(row.external_session_id),
        user_id: row.user_id === null ? null : cleanText(row.user_id),
        model: row.model === null ? null : cleanText(row.model),
        attributes: JSON.stringify(sanitizeJsonForPostgres(row.attributes)),
        resource: JSON.stringify(sanitizeJsonForPostgres(row.resource)),
      }));
      const inserted = await this.knex("otel_metric_points").insert(rows).onConflict("id").ignore().returning("id");
      // Counted over the points stored now: a retried export's points replace nothing.
      const storedIds = new Set(inserted.map((row: { id: string }) => row.id));
      for (const row of chunk) {
        if (storedIds.has(row.id))
          replacedCharacters += unstorableCharacters([row.name, row.unit, row.attributes, row.resource]);
      }
    }
    return { accepted: kept.length, rejected, ...(message ? { errorMessage: message } : {}), replacedCharacters };
  }

  /** Metric points by session, user, model, name and time, oldest first. */
  async listMetricPoints(input: ListMetricPointsInput): Promise<MetricPoint[]> {
    let externalSessionId = input.externalSessionId;
    if (input.sessionId) {
      const session = await this.knex<{ id: string; external_id: string | null }>("sessions")
        .where({ id: input.sessionId })
        .first("external_id");
      if (!session) throw notFound("session", input.sessionId);
      externalSessionId = session.external_id ?? undefined;
      if (!externalSessionId) return [];
    }
    const query = this.knex<MetricPointRow>("otel_metric_points").select(
      "id",
      "name",
      "kind",
      "unit",
      "temporality",
      "external_session_id",
      "user_id",
      "model",
      "value",
      "count",
      "start_time",
      "time",
      "attributes",
      "resource",
    );
    if (externalSessionId) void query.where("external_session_id", externalSessionId);
    if (input.userId) void query.where("user_id", input.userId);
    if (input.model) void query.where("model", input.model);
    if (input.name) void query.where("name", input.name);
    if (input.from) void query.where("time", ">=", input.from);
    if (input.to) void query.where("time", "<", input.to);
    const rows = (await query.orderBy([{ column: "time" }, { column: "id" }]).limit(input.limit)) as unknown as Array<
      Omit<MetricPointRow, "start_time" | "time"> & { start_time: Date | null; time: Date }
    >;
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      kind: r.kind,
      unit: r.unit,
      temporality: r.temporality,
      externalSessionId: r.external_session_id,
      userId: r.user_id,
      model: r.model,
      value: r.value,
      count: r.count === null ? null : Number(r.count),
      startTime: r.start_time ? r.start_time.toISOString() : null,
      time: r.time.toISOString(),
      attributes: r.attributes,
      resource: r.resource,
    }));
  }

  /**
   * A session's `claude_code.api_request` events, and how much of them its counters lack.
   * The rule that keeps tokens and cost from counting twice: a session's counters come from
   * its transcript messages; an api_request counts on top only when no transcript line of
   * the session or of its subagents carries its `request_id` (as `requestId`). Worked out
   * when read, so it holds whichever of the two arrives first, or if one never does.
   */
  async sessionUsage(sessionId: string): Promise<TelemetryUsage> {
    const found = await this.knex.raw<{
      rows: Array<{
        input_tokens: string;
        output_tokens: string;
        cache_read_tokens: string;
        cache_creation_tokens: string;
        cost_usd: string;
      }>;
    }>(
      `SELECT input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
         trim_scale(coalesce(cost_usd, 0))::text AS cost_usd
       FROM sessions WHERE id = ?`,
      [sessionId],
    );
    const session = found.rows[0];
    if (!session) throw notFound("session", sessionId);

    const otelOnly = `(r.a->>'request_id' IS NULL OR r.a->>'request_id' NOT IN (SELECT request_id FROM carried))`;
    // No `?` in this SQL but the bindings: Knex reads every `?` as one.
    const both = await this.knex.raw<{ rows: Array<{ reported: TotalsRow; otel_only: TotalsRow }> }>(
      `WITH r AS (
         SELECT e.payload->'attributes' AS a FROM events e
         WHERE e.session_id = ? AND e.source = 'otel' AND e.event_type = 'claude_code.api_request'
       ), carried AS (
         SELECT DISTINCT t.payload->>'requestId' AS request_id
         FROM events t JOIN sessions s ON s.id = t.session_id
         WHERE (s.id = ? OR s.parent_session_id = ?) AND t.source = 'transcript' AND t.payload->>'requestId' IS NOT NULL
       )
       SELECT (SELECT row_to_json(x) FROM (SELECT ${totals("true")} FROM r) x) AS reported,
              (SELECT row_to_json(y) FROM (SELECT ${totals(otelOnly)} FROM r) y) AS otel_only`,
      [sessionId, sessionId, sessionId],
    );
    const row = returnedRow(both.rows[0], "the OTLP totals query");
    const reported = toTotals(row.reported);
    const extra = toTotals(row.otel_only);
    const sum = await this.knex.raw<{ rows: Array<{ cost: string }> }>(
      `SELECT trim_scale(?::numeric + ?::numeric)::text AS cost`,
      [session.cost_usd ?? "0", extra.costUsd],
    );
    return {
      sessionId,
      reported,
      otelOnly: extra,
      total: {
        inputTokens: Number(session.input_tokens) + extra.inputTokens,
        outputTokens: Number(session.output_tokens) + extra.outputTokens,
        cacheReadTokens: Number(session.cache_read_tokens) + extra.cacheReadTokens,
        cacheCreationTokens: Number(session.cache_creation_tokens) + extra.cacheCreationTokens,
        costUsd: returnedRow(sum.rows[0], "the cost sum").cost,
      },
    };
  }
}
