import type { Knex } from "@logbook/db";

/**
 * Bindings for `unnest(?::type[], …)` queries: one JS array per column. Knex's binding
 * types do not describe arrays with nulls, though pg sends them as PostgreSQL arrays
 * correctly; this is the one place that says so.
 */
export function columnBindings(...columns: unknown[]): Knex.RawBinding[] {
  return columns as Knex.RawBinding[];
}

/** An element of `pgArray`: what the ingest columns hold. */
export type PgArrayElement = string | number | boolean | null;

/**
 * A PostgreSQL array literal (`{"a","b",NULL}`) for a `?::type[]` / `$n::type[]` bind, built
 * as one flat string. The driver does the same for a JS array, but by appending element after
 * element (a chain of partial strings it then has to copy flat again): for a 500-event batch
 * that was about a fifth of what the server allocated, and the garbage a batch leaves is
 * what makes the heap (and RSS) grow under batch ingest. Every element is quoted, with `\`
 * and `"` escaped, exactly as the driver does, so the database reads the same values.
 */
export function pgArray(values: readonly PgArrayElement[]): string {
  if (values.length === 0) return "{}";
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i] ?? null;
    if (value === null) parts[i] = "NULL";
    else {
      const text = typeof value === "string" ? value : String(value);
      parts[i] = NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPED, "\\$&")}"` : `"${text}"`;
    }
  }
  // The braces go into the first and last elements, so that `join` makes the whole literal
  // one flat string: wrapped around the joined text they made a rope, which the driver's
  // `Buffer.byteLength` then copied flat again (a second copy of every column).
  parts[0] = `{${parts[0] ?? ""}`;
  parts[parts.length - 1] = `${parts[parts.length - 1] ?? ""}}`;
  return parts.join(",");
}

/**
 * A bind value the driver makes when it sends the statement (pg calls `toPostgres`), not
 * before. A batch's parameters (a 500-event batch's payloads are one ~500 KB JSON text, its
 * columns ~150 KB of array literals) then live only while they are written to the socket:
 * made up front, they stayed reachable from the query until its answer, so they outlived
 * the young generation and were promoted (as large objects) with every batch, which is what
 * grew the old generation, and RSS, under batch ingest. `make` must be pure: a retried
 * statement makes its values again.
 */
export function atBind(make: () => string | null): { toPostgres: () => string | null } {
  return { toPostgres: make };
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

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
