import type { Knex } from "@logbook/db";
import type pg from "pg";

export interface ExplainedQuery {
  sql: string;
  plan: string[];
  executionMs: number | null;
}

/**
 * Runs `call` (a service method on `knex`) while recording the SQL it sends, then runs
 * EXPLAIN (ANALYZE, BUFFERS) on each SELECT (and read-only WITH): the plans of the queries the product really runs.
 */
export async function explainCall(
  knex: Knex,
  client: pg.Client,
  call: () => Promise<unknown>,
): Promise<ExplainedQuery[]> {
  const seen: Array<{ sql: string; bindings: readonly unknown[] }> = [];
  const listener = (query: { sql: string; bindings?: readonly unknown[] }) => {
    seen.push({ sql: query.sql, bindings: query.bindings ?? [] });
  };
  knex.on("query", listener);
  try {
    await call();
  } finally {
    knex.off("query", listener);
  }
  const out: ExplainedQuery[] = [];
  for (const q of seen) {
    // Reads only: a WITH that writes (the ingest statements) must not run again under EXPLAIN ANALYZE.
    const read = /^\s*select/i.test(q.sql) || (/^\s*with\b/i.test(q.sql) && !/\b(insert|update|delete)\b/i.test(q.sql));
    if (!read) continue;
    // The SQL as knex sent it ($1..$n placeholders, prepared bindings), on a plain pg client.
    const result = await client.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`,
      q.bindings as unknown[],
    );
    const plan = result.rows.map((r) => r["QUERY PLAN"]);
    const time = plan.map((l) => /Execution Time: ([\d.]+) ms/.exec(l)?.[1]).find((x) => x !== undefined);
    out.push({ sql: q.sql, plan, executionMs: time ? Number(time) : null });
  }
  return out;
}
