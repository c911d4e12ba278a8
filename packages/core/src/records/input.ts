import type { Knex } from "@logbook/db";
import type { z } from "zod";

import { invalidInput, notFound } from "../errors.js";

/**
 * Parses a service input with its contract. The API has already parsed it, but services
 * are also called directly (the server's scheduler, tests, other services), so each one
 * applies the contract's defaults and rules itself. Parsing is idempotent, so a parsed
 * value passes unchanged. A failure is an INVALID_INPUT that names every bad field.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: z.input<S>, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "input",
    message: issue.message,
  }));
  throw invalidInput(`invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, { issues });
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

/** Exact keyset value of a timestamp column: PostgreSQL keeps microseconds, a JS Date does not. */
export const timestampKey = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const TIMESTAMP_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks the values inside a decoded cursor, so a forged one is a clear error, not a database one. */
export function assertCursorValues(
  values: ReadonlyArray<string | number>,
  kinds: ReadonlyArray<"timestamp" | "uuid" | "text">,
): void {
  const ok = values.every((value, i) => {
    const kind = kinds[i];
    if (typeof value !== "string") return false;
    if (kind === "timestamp") return TIMESTAMP_KEY.test(value);
    if (kind === "uuid") return UUID.test(value);
    return !value.includes("\u0000");
  });
  if (!ok) throw invalidInput("cursor is not one this API returned");
}

/**
 * NOT_FOUND unless the session exists. Writes rely on the foreign key instead (race-free);
 * lists call this only when a page comes back empty, to tell "no rows" from "no session".
 */
export async function assertSessionExists(knex: Knex, sessionId: string): Promise<void> {
  const row: unknown = await knex("sessions").where({ id: sessionId }).first("id");
  if (!row) throw notFound("session", sessionId);
}
