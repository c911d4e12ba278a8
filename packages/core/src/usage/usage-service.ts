import {
  type PriceTableOutput,
  type RepriceResult,
  type UsageReport,
  type UsageReportInput,
  type UsageReportQuery,
} from "@logbook/contracts";
import type { Knex } from "@logbook/db";

import { readerOf, withPrices, type CoreDeps } from "../deps.js";
import { invalidInput } from "../errors.js";
import { assertFilterTargetsExist } from "../filter-targets.js";
import type { PriceBook } from "../pricing/pricing.js";
import { columnBindings } from "../sql.js";
import { returnedRow } from "../invariants.js";

/** A message with tokens and no cost: its model has no price. */
const UNPRICED = `(m.cost_usd IS NULL
  AND m.input_tokens + m.output_tokens + m.cache_read_tokens + m.cache_creation_tokens > 0)`;

/** A calendar day bound, as the contract takes it. */
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The sums every report row and the totals carry. */
const SUMS = `
  count(*) AS messages,
  count(DISTINCT m.session_id) AS sessions,
  coalesce(sum(m.input_tokens), 0) AS input_tokens,
  coalesce(sum(m.output_tokens), 0) AS output_tokens,
  coalesce(sum(m.cache_read_tokens), 0) AS cache_read_tokens,
  coalesce(sum(m.cache_creation_tokens), 0) AS cache_creation_tokens,
  coalesce(sum(m.cache_creation_1h_tokens), 0) AS cache_creation_1h_tokens,
  coalesce(sum(m.cost_usd), 0) AS cost_usd,
  count(*) FILTER (WHERE ${UNPRICED}) AS unpriced`;

interface SumsRow {
  messages: number;
  sessions: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  cache_creation_1h_tokens: number;
  cost_usd: number;
  unpriced: number;
}

function toTotals(row: SumsRow): UsageReport["totals"] {
  const inputTokens = Number(row.input_tokens);
  const outputTokens = Number(row.output_tokens);
  const cacheReadTokens = Number(row.cache_read_tokens);
  const cacheCreationTokens = Number(row.cache_creation_tokens);
  return {
    messages: Number(row.messages),
    sessions: Number(row.sessions),
    inputTokens,
    outputTokens,
    cacheReadTokens,
    cacheCreationTokens,
    cacheCreation1hTokens: Number(row.cache_creation_1h_tokens),
    totalTokens: inputTokens + outputTokens + cacheReadTokens + cacheCreationTokens,
    costUsd: Number(row.cost_usd),
    unpricedMessages: Number(row.unpriced),
  };
}

/** Key and label of each grouping; `?` is the time zone. */
const GROUPINGS: Record<UsageReportQuery["groupBy"], { key: string; label: string; period: boolean }> = {
  day: { key: "to_char(m.created_at AT TIME ZONE ?, 'YYYY-MM-DD')", label: "NULL::text", period: true },
  week: {
    key: "to_char(date_trunc('week', m.created_at AT TIME ZONE ?), 'YYYY-MM-DD')",
    label: "NULL::text",
    period: true,
  },
  month: { key: "to_char(m.created_at AT TIME ZONE ?, 'YYYY-MM')", label: "NULL::text", period: true },
  session: { key: "m.session_id::text", label: "coalesce(s.title, s.initial_query)", period: false },
  project: { key: "coalesce(s.project_id::text, 'none')", label: "p.path", period: false },
  model: { key: "coalesce(m.model, 'unknown')", label: "NULL::text", period: false },
  machine: { key: "coalesce(s.machine_id, 'unknown')", label: "NULL::text", period: false },
};

/**
 * Token usage and cost reports, and the prices behind them. Reports read the API
 * responses stored as messages (one per `message.id`), so a day is the day a response
 * was made, in the caller's time zone, and a session that ran over midnight counts on
 * both days.
 */
export class UsageService {
  private readonly knex: Knex;
  /** Reports read here: a streaming replica when configured (they may lag it by a moment). */
  private readonly reader: Knex;
  private readonly prices: PriceBook;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
    this.reader = readerOf(deps);
    this.prices = withPrices(deps).prices;
  }

  async report(input: UsageReportInput): Promise<UsageReport> {
    const query = input;
    const grouping = GROUPINGS[query.groupBy];
    // The most recent periods when the limit cuts (read newest first, turned round below).
    const order = grouping.period
      ? "1 DESC"
      : "cost_usd DESC, (sum(m.input_tokens) + sum(m.output_tokens)) DESC, 1 ASC";
    const report = await this.reader.transaction(
      async (trx) => {
        const range = await this.resolveRange(trx, query);
        const { where, bindings } = this.filters(query, range);
        const from = `FROM session_messages m JOIN sessions s ON s.id = m.session_id
          LEFT JOIN projects p ON p.id = s.project_id
          WHERE ${where}`;
        const rows = await trx.raw<{
          rows: Array<SumsRow & { key: string; label: string | null; models: string[] | null; groups: number }>;
        }>(
          `SELECT ${grouping.key} AS key, ${grouping.label} AS label, ${SUMS},
             array_agg(DISTINCT m.model ORDER BY m.model) FILTER (WHERE m.model IS NOT NULL) AS models,
             count(*) OVER () AS groups
           ${from}
           GROUP BY 1, 2 ORDER BY ${order} LIMIT ?`,
          [...(grouping.period ? [query.timeZone] : []), ...bindings, query.limit],
        );
        const shown = grouping.period ? rows.rows.toReversed() : rows.rows;
        const totals = await trx.raw<{ rows: SumsRow[] }>(`SELECT ${SUMS} ${from}`, bindings);
        return {
          groupBy: query.groupBy,
          timeZone: query.timeZone,
          from: range.from,
          to: range.to,
          rows: shown.map((row) => ({
            key: row.key,
            label: row.label,
            ...toTotals(row),
            models: row.models ?? [],
          })),
          groupCount: Number(rows.rows[0]?.groups ?? 0),
          totals: toTotals(returnedRow(totals.rows[0], "the usage totals query")),
          priceTableVersion: this.prices.pricing.version,
        };
      },
      { isolationLevel: "repeatable read", readOnly: true },
    );
    // After the report's transaction has given its connection back: on one pool it would wait on itself.
    if (report.rows.length === 0) await assertFilterTargetsExist(this.knex, query);
    return report;
  }

  /**
   * `from` and `to` as instants: a day is its midnight in the report's time zone (the
   * database knows the zone's offsets, summer time included). Refuses a range that ends
   * before it starts.
   */
  private async resolveRange(
    trx: Knex.Transaction,
    query: UsageReportQuery,
  ): Promise<{ from: string | null; to: string | null }> {
    if (query.from === undefined && query.to === undefined) return { from: null, to: null };
    const bound = (value: string | undefined): [string, Knex.RawBinding[]] => {
      if (value === undefined) return ["NULL::timestamptz", []];
      if (DAY.test(value)) return ["(?::date)::timestamp AT TIME ZONE ?", [value, query.timeZone]];
      return ["?::timestamptz", [value]];
    };
    const [fromSql, fromBindings] = bound(query.from);
    const [toSql, toBindings] = bound(query.to);
    const { rows } = await trx.raw<{ rows: Array<{ from: Date | null; to: Date | null }> }>(
      `SELECT ${fromSql} AS "from", ${toSql} AS "to"`,
      [...fromBindings, ...toBindings],
    );
    const range = returnedRow(rows[0], "the usage range query");
    if (range.from && range.to && range.from > range.to) {
      throw invalidInput("`from` must not be after `to`", { from: query.from, to: query.to });
    }
    return { from: range.from?.toISOString() ?? null, to: range.to?.toISOString() ?? null };
  }

  private filters(
    query: UsageReportQuery,
    range: { from: string | null; to: string | null },
  ): { where: string; bindings: Knex.RawBinding[] } {
    // API responses only: prompts and the replies hooks carry have no usage of their own.
    const clauses = ["m.role = 'assistant'", "m.external_message_id IS NOT NULL"];
    const bindings: Knex.RawBinding[] = [];
    const add = (clause: string, ...values: Knex.RawBinding[]) => {
      clauses.push(clause);
      bindings.push(...values);
    };
    if (range.from) add("m.created_at >= ?::timestamptz", range.from);
    if (range.to) add("m.created_at < ?::timestamptz", range.to);
    if (query.projectId) add("s.project_id = ?::uuid", query.projectId);
    if (query.machineId) add("s.machine_id = ?", query.machineId);
    if (query.model) add("m.model = ?", query.model);
    if (query.sessionId && query.includeSubagents) {
      add(
        `m.session_id IN (WITH RECURSIVE tree AS (
           SELECT id FROM sessions WHERE id = ?::uuid
           UNION SELECT c.id FROM sessions c JOIN tree ON c.parent_session_id = tree.id
         ) SELECT id FROM tree)`,
        query.sessionId,
      );
    } else if (query.sessionId) {
      add("m.session_id = ?::uuid", query.sessionId);
    }
    return { where: clauses.join(" AND "), bindings };
  }

  /** The table in force: built-in, or with the override file laid over it. */
  priceTable(): PriceTableOutput {
    const { table } = this.prices.pricing;
    return { ...table, overrideFile: this.prices.overrideFile };
  }

  /**
   * Prices every stored API response again with the current table (the override file is
   * read again first: a file that does not parse is INVALID_INPUT and nothing changes),
   * then sets each session's cost and unpriced count to the sums of its messages. A cost
   * Claude Code reported is kept. Ingest waits while it runs (the messages table is
   * locked against writes), so no message is added between the two steps.
   */
  async reprice(): Promise<RepriceResult> {
    const pricing = this.prices.reload();
    return this.knex.transaction(async (trx) => {
      await trx.raw("LOCK TABLE session_messages IN SHARE ROW EXCLUSIVE MODE");
      const { rows: models } = await trx.raw<{ rows: Array<{ model: string }> }>(
        "SELECT DISTINCT model FROM session_messages WHERE model IS NOT NULL AND external_message_id IS NOT NULL",
      );
      const priced = models.flatMap(({ model }) => {
        const price = pricing.priceOf(model);
        return price ? [{ model, price }] : [];
      });
      const col = (pick: (p: (typeof priced)[number]) => number | string | null) => priced.map(pick);
      const long = (p: (typeof priced)[number]) => p.price.longContext;
      const tokens = (prefix: string) => `(m.input_tokens * ${prefix}input + m.output_tokens * ${prefix}output
        + (m.cache_creation_tokens - m.cache_creation_1h_tokens) * ${prefix}cw5
        + m.cache_creation_1h_tokens * ${prefix}cw1 + m.cache_read_tokens * ${prefix}cr) * 0.000001`;
      const updated = await trx.raw<{ rowCount: number }>(
        `WITH prices AS (
           SELECT * FROM unnest(?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[],
             ?::bigint[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[], ?::numeric[])
             AS p(model, input, output, cw5, cw1, cr, threshold, l_input, l_output, l_cw5, l_cw1, l_cr)
         ), computed AS (
           SELECT m.id, (CASE
             WHEN m.input_tokens + m.output_tokens + m.cache_read_tokens + m.cache_creation_tokens = 0 THEN 0
             WHEN p.model IS NULL THEN NULL
             WHEN p.threshold IS NOT NULL
               AND m.input_tokens + m.cache_creation_tokens + m.cache_read_tokens > p.threshold THEN ${tokens("p.l_")}
             ELSE ${tokens("p.")} END)::numeric(20,10) AS cost
           FROM session_messages m LEFT JOIN prices p ON p.model = m.model
           WHERE m.external_message_id IS NOT NULL AND m.reported_cost_usd IS NULL
         )
         UPDATE session_messages m SET cost_usd = c.cost FROM computed c
         WHERE m.id = c.id AND m.cost_usd IS DISTINCT FROM c.cost`,
        columnBindings(
          col((p) => p.model),
          col((p) => p.price.input),
          col((p) => p.price.output),
          col((p) => p.price.cacheWrite5m),
          col((p) => p.price.cacheWrite1h),
          col((p) => p.price.cacheRead),
          col((p) => long(p)?.thresholdTokens ?? null),
          col((p) => long(p)?.input ?? null),
          col((p) => long(p)?.output ?? null),
          col((p) => long(p)?.cacheWrite5m ?? null),
          col((p) => long(p)?.cacheWrite1h ?? null),
          col((p) => long(p)?.cacheRead ?? null),
        ),
      );
      const sessions = await trx.raw<{ rowCount: number }>(
        `UPDATE sessions s SET cost_usd = t.cost, unpriced_messages = t.unpriced
         FROM (SELECT m.session_id, coalesce(sum(m.cost_usd), 0) AS cost, count(*) FILTER (WHERE ${UNPRICED}) AS unpriced
               FROM session_messages m GROUP BY m.session_id) t
         WHERE s.id = t.session_id AND (s.cost_usd, s.unpriced_messages) IS DISTINCT FROM (t.cost, t.unpriced)`,
      );
      const { rows: left } = await trx.raw<{ rows: Array<{ count: number | string; models: string[] | null }> }>(
        `SELECT count(*) AS count, array_agg(DISTINCT coalesce(m.model, 'unknown') ORDER BY coalesce(m.model, 'unknown')) AS models
         FROM session_messages m WHERE ${UNPRICED}`,
      );
      return {
        priceTableVersion: pricing.version,
        messagesRepriced: updated.rowCount,
        sessionsUpdated: sessions.rowCount,
        unpricedMessages: Number(left[0]?.count ?? 0),
        unpricedModels: left[0]?.models ?? [],
      };
    });
  }
}
