import type { Knex } from "@logbook/db";

/**
 * Bindings for `unnest(?::type[], …)` queries: one JS array per column. Knex's binding
 * types do not describe arrays with nulls, though pg sends them as PostgreSQL arrays
 * correctly; this is the one place that says so.
 */
export function columnBindings(...columns: unknown[]): Knex.RawBinding[] {
  return columns as Knex.RawBinding[];
}

/** Rows of a `knex.raw` query on PostgreSQL. */
export function rowsOf(result: unknown): Array<Record<string, unknown>> {
  return (result as { rows: Array<Record<string, unknown>> }).rows;
}

/** A jsonb bind value: always serialised, so arrays and strings are stored as JSON, not as SQL arrays or text. */
export function jsonb(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

interface PgLikeError {
  code?: string;
  constraint?: string;
}

/** The constraint a PostgreSQL error names, when it is the given SQLSTATE. */
export function violated(error: unknown, sqlState: string): string | null {
  if (typeof error !== "object" || error === null) return null;
  const pg = error as PgLikeError;
  return pg.code === sqlState ? (pg.constraint ?? "") : null;
}
