import type { Knex } from "@logbook/db";

/**
 * Bindings for `unnest(?::type[], …)` queries: one JS array per column. Knex's binding
 * types do not describe arrays with nulls, though pg sends them as PostgreSQL arrays
 * correctly; this is the one place that says so.
 */
export function columnBindings(...columns: unknown[]): Knex.RawBinding[] {
  return columns as Knex.RawBinding[];
}
