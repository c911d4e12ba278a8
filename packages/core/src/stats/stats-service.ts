import {
  type ActiveSessionsInput,
  type activeSessionStats,
  type eventTypeCount,
  OPEN_SESSION_STATUSES,
  type Overview,
  type TimeRangeInput,
  type TokenTotalsInput,
  type tokenTotalsRow,
  type TokenUsage,
  type toolUsage,
} from "@logbook/contracts";
import { SessionModel, type Knex } from "@logbook/db";
import type { z } from "zod";

import { clockOf, type CoreDeps } from "../deps.js";
import { invalidInput } from "../errors.js";
import { assertFilterTargetsExist } from "../filter-targets.js";
import { SESSION_COLUMNS, toSessionDto } from "../sessions/session-dto.js";
import { iso } from "../time.js";

export type ActiveSessionStats = z.infer<typeof activeSessionStats>;
export type EventTypeCount = z.infer<typeof eventTypeCount>;
export type ToolUsage = z.infer<typeof toolUsage>;
export type TokenTotalsRow = z.infer<typeof tokenTotalsRow>;

/** Hook event types that report a failed tool call (besides any event at level `error`). */
const TOOL_FAILURE_EVENT_TYPES = ["PostToolUseFailure"] as const;

/** The same sums everywhere: a session's token counters and cost. */
const TOKEN_SUMS = `
  coalesce(sum(s.input_tokens), 0) AS input_tokens,
  coalesce(sum(s.output_tokens), 0) AS output_tokens,
  coalesce(sum(s.cache_read_tokens), 0) AS cache_read_tokens,
  coalesce(sum(s.cache_creation_tokens), 0) AS cache_creation_tokens,
  coalesce(sum(s.cost_usd), 0) AS cost_usd,
  coalesce(sum(s.unpriced_messages), 0) AS unpriced_messages`;

interface TokenSumsRow {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  cost_usd: number;
  unpriced_messages: number;
}

type ActiveSessionRow = SessionModel & { eventCount: number; childCount: number; durationSeconds: number };

function toTokenUsage(row: TokenSumsRow): TokenUsage {
  return {
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cacheReadTokens: Number(row.cache_read_tokens),
    cacheCreationTokens: Number(row.cache_creation_tokens),
    costUsd: Number(row.cost_usd),
    unpricedMessages: Number(row.unpriced_messages),
  };
}

function parseRange(input: TimeRangeInput): { from: Date | null; to: Date | null } {
  const from = input.from === undefined ? null : new Date(input.from);
  const to = input.to === undefined ? null : new Date(input.to);
  if (from && to && from > to) {
    throw invalidInput("`from` must not be after `to`", { from: input.from, to: input.to });
  }
  return { from, to };
}

/**
 * Read-only aggregates for dashboards: the live sessions with their metrics, event and
 * tool counts, token totals and an overview. These replace seed 002's `active_sessions`
 * view and its `get_session_event_counts` function (recent events and the session tree
 * are the event and session services' business).
 *
 * Time ranges are half-open, `[from, to)`, so consecutive ranges never count a row twice.
 */
export class StatsService {
  constructor(private readonly deps: CoreDeps) {}

  private get knex(): Knex {
    return this.deps.knex;
  }

  /**
   * Sessions that are not finished and not archived (hidden ones only when asked), most
   * recently active first, each with its event count, child count and duration
   * (start, or creation, to the end or now). One query: the metrics are correlated
   * sub-selects that use the (session_id, …) and parent indexes.
   */
  async activeSessions(input: ActiveSessionsInput): Promise<ActiveSessionStats[]> {
    const now = clockOf(this.deps)();
    const query = SessionModel.query(this.knex)
      .alias("s")
      .select(SESSION_COLUMNS.map((column) => `s.${column}`))
      .select(
        this.knex.raw("(SELECT count(*) FROM events e WHERE e.session_id = s.id) AS event_count"),
        this.knex.raw("(SELECT count(*) FROM sessions c WHERE c.parent_session_id = s.id) AS child_count"),
        // Never negative: a clock a little behind the database must not give -0.3 s.
        this.knex.raw(
          "greatest(0, extract(epoch FROM (coalesce(s.ended_at, ?::timestamptz) - coalesce(s.started_at, s.created_at))))::float8 AS duration_seconds",
          [now],
        ),
      )
      .whereIn("s.status", OPEN_SESSION_STATUSES)
      .whereNull("s.archived_at")
      .orderBy([
        { column: "s.last_activity_at", order: "desc" },
        { column: "s.id", order: "desc" },
      ])
      .limit(input.limit);
    if (!input.includeHidden) query.where("s.hidden", false);
    const rows = (await query) as ActiveSessionRow[];
    return rows.map((row) => ({
      session: toSessionDto(row),
      eventCount: Number(row.eventCount),
      durationSeconds: Number(row.durationSeconds),
      childCount: Number(row.childCount),
    }));
  }

  /** How many events of each type (most frequent first) in the range, project or session. */
  async eventCounts(input: TimeRangeInput): Promise<EventTypeCount[]> {
    const query = this.knex("events as e")
      .select("e.event_type")
      .count({ count: "*" })
      .groupBy("e.event_type")
      .orderBy([
        { column: "count", order: "desc" },
        { column: "e.event_type", order: "asc" },
      ]);
    this.filterEvents(query, input);
    const rows = (await query) as Array<{ event_type: string; count: number | string }>;
    if (rows.length === 0) await assertFilterTargetsExist(this.knex, input);
    return rows.map((row) => ({ eventType: row.event_type, count: Number(row.count) }));
  }

  /**
   * Tool calls per tool name, most used first. One call is one `tool_use_id` within a
   * session (so its PreToolUse and PostToolUse count once); events that carry no
   * `tool_use_id` (older hook versions, some importers) count one each. A call failed
   * when any of its events is a PostToolUseFailure or has level `error`.
   */
  async toolUsage(input: TimeRangeInput): Promise<ToolUsage[]> {
    const failed = `(e.event_type IN (${TOOL_FAILURE_EVENT_TYPES.map(() => "?").join(", ")}) OR e.level = 'error')`;
    const callKey = "(e.session_id::text || ':' || coalesce(e.tool_use_id, 'event:' || e.id::text))";
    const query = this.knex("events as e")
      .select("e.tool_name")
      .select(this.knex.raw(`count(DISTINCT ${callKey}) AS calls`))
      .select(
        this.knex.raw(`count(DISTINCT ${callKey}) FILTER (WHERE ${failed}) AS failures`, [...TOOL_FAILURE_EVENT_TYPES]),
      )
      .whereNotNull("e.tool_name")
      .groupBy("e.tool_name")
      .orderBy([
        { column: "calls", order: "desc" },
        { column: "e.tool_name", order: "asc" },
      ]);
    this.filterEvents(query, input);
    const rows = (await query) as Array<{ tool_name: string; calls: number; failures: number }>;
    if (rows.length === 0) await assertFilterTargetsExist(this.knex, input);
    return rows.map((row) => ({ toolName: row.tool_name, count: Number(row.calls), failures: Number(row.failures) }));
  }

  /**
   * Token counters and cost summed per session, per project (`none` for sessions without
   * one) or per day. Sessions are picked by `last_activity_at` in the range, and a day is
   * the UTC calendar day of a session's `last_activity_at`: a session's counters are
   * running totals with no per-day breakdown, so the whole session counts on the day it
   * was last active. Days come newest first; sessions and projects most expensive first.
   */
  async tokenTotals(input: TokenTotalsInput): Promise<TokenTotalsRow[]> {
    const { groupBy, limit } = input;
    const keyExpression = {
      session: "s.id::text",
      project: "coalesce(s.project_id::text, 'none')",
      day: "to_char((s.last_activity_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')",
    }[groupBy];
    const query = this.knex("sessions as s")
      .select(this.knex.raw(`${keyExpression} AS key`))
      .select(this.knex.raw("count(*) AS sessions"))
      .select(this.knex.raw(TOKEN_SUMS))
      .groupByRaw("1")
      .limit(limit);
    if (groupBy === "day") {
      query.orderByRaw("1 DESC");
    } else {
      query.orderByRaw(
        "cost_usd DESC, (coalesce(sum(s.input_tokens), 0) + coalesce(sum(s.output_tokens), 0)) DESC, 1 ASC",
      );
    }
    const { from, to } = parseRange(input);
    if (from) query.where("s.last_activity_at", ">=", from);
    if (to) query.where("s.last_activity_at", "<", to);
    if (input.projectId) query.where("s.project_id", input.projectId);
    if (input.sessionId) query.where("s.id", input.sessionId);
    const rows = (await query) as Array<TokenSumsRow & { key: string; sessions: number }>;
    if (rows.length === 0) await assertFilterTargetsExist(this.knex, input);
    return rows.map((row) => ({ key: row.key, sessions: Number(row.sessions), ...toTokenUsage(row) }));
  }

  /**
   * Sessions by status, totals, machines and tokens, read in one repeatable-read
   * snapshot so the numbers agree with each other. Counts are exact (`count(*)`), which
   * is fine at this scale; a partitioned events table would switch to estimates.
   */
  async overview(): Promise<Overview> {
    return this.knex.transaction(
      async (trx) => {
        const { rows: byStatus } = await trx.raw<{ rows: Array<{ status: string; count: number | string }> }>(
          "SELECT status, count(*) AS count FROM sessions GROUP BY status",
        );
        const events = (await trx("events").count({ count: "*" }).first()) as { count: number | string } | undefined;
        // Machines are few; the cap only guards the answer's size against odd data.
        const machines = (await trx("sessions")
          .select("machine_id")
          .count({ sessions: "*" })
          .max({ last_activity_at: "last_activity_at" })
          .whereNotNull("machine_id")
          .groupBy("machine_id")
          .orderBy([
            { column: "last_activity_at", order: "desc" },
            { column: "machine_id", order: "asc" },
          ])
          .limit(1000)) as Array<{ machine_id: string; sessions: number | string; last_activity_at: Date }>;
        const tokens = (await trx("sessions as s").select(trx.raw(TOKEN_SUMS)).first()) as TokenSumsRow;

        const sessionsByStatus: Record<string, number> = {};
        let totalSessions = 0;
        for (const row of byStatus) {
          const count = Number(row.count);
          sessionsByStatus[row.status] = count;
          totalSessions += count;
        }
        return {
          sessionsByStatus,
          totalSessions,
          totalEvents: Number(events?.count ?? 0),
          machines: machines.map((row) => ({
            machineId: row.machine_id,
            sessions: Number(row.sessions),
            lastActivityAt: iso(row.last_activity_at),
          })),
          tokens: toTokenUsage(tokens),
        };
      },
      { isolationLevel: "repeatable read", readOnly: true },
    );
  }

  /** Range on `occurred_at`, project through the event's session, or one session. */
  private filterEvents(query: Knex.QueryBuilder, input: TimeRangeInput): void {
    const { from, to } = parseRange(input);
    if (from) query.where("e.occurred_at", ">=", from);
    if (to) query.where("e.occurred_at", "<", to);
    if (input.sessionId) query.where("e.session_id", input.sessionId);
    if (input.projectId) {
      const projectId = input.projectId;
      query.whereExists(function () {
        void this.select(1).from("sessions as ps").whereRaw("ps.id = e.session_id").where("ps.project_id", projectId);
      });
    }
  }
}
