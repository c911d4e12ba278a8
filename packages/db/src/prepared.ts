import type { Knex } from "knex";

/** A statement prepared once per pooled connection: `text` uses `$1..$n` placeholders. */
export interface PreparedStatement {
  /** Unique per statement text: PostgreSQL keeps one plan per name on each connection. */
  name: string;
  text: string;
}

interface ConnectionPool {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
  emit(event: "query", data: unknown): boolean;
  emit(event: "query-error", error: unknown, data: unknown): boolean;
}

interface PgConnection {
  query<Row>(config: { name: string; text: string; values: readonly unknown[] }): Promise<{ rows: Row[] }>;
}

/**
 * Runs a named prepared statement on a connection of knex's pool, through the `pg` driver
 * itself (issue 15: no query builder where a prepared statement is the whole job). Knex's
 * raw path rewrites `?` placeholders, copies and checks every binding and builds a query
 * object per call; on the hot path of a single hook post that was measurable CPU for
 * nothing, since the text never changes and PostgreSQL has the plan already.
 *
 * The pool, its limits and its timeouts are knex's, and the statement is still announced
 * as a knex `query` event (what tests and the bench count statements with), and its failure
 * as a `query-error` event, as knex announces its own (tests see a retried deadlock). Errors are the
 * driver's, unwrapped (SQLSTATE in `code`), so callers match them as before.
 */
export async function runPrepared<Row>(
  knex: Knex,
  statement: PreparedStatement,
  values: readonly unknown[],
): Promise<Row[]> {
  const pool = knex.client as ConnectionPool;
  const connection = (await pool.acquireConnection()) as PgConnection;
  const query = { method: "raw", sql: statement.text, bindings: values, options: { name: statement.name } };
  try {
    pool.emit("query", query);
    const result = await connection.query<Row>({ name: statement.name, text: statement.text, values });
    return result.rows;
  } catch (error) {
    pool.emit("query-error", error, query);
    throw error;
  } finally {
    await pool.releaseConnection(connection);
  }
}
