import type { Knex } from "@logbook/db";

import { notFound } from "../errors.js";
import { assertCursorValues, decodeCursor, timestampKey, toPage } from "../pagination.js";

/**
 * NOT_FOUND unless the session exists. Writes rely on the foreign key instead (race-free);
 * lists call this only when a page comes back empty, to tell "no rows" from "no session".
 */
export async function assertSessionExists(knex: Knex, sessionId: string): Promise<void> {
  const row: unknown = await knex("sessions").where({ id: sessionId }).first("id");
  if (!row) throw notFound("session", sessionId);
}

/**
 * One page of a session's records in creation order (`created_at`, then `id`), with a
 * keyset cursor: the shared body of the messages' and artifacts' `list`. `filter` adds the
 * list's own condition (a role, an artifact type); an empty first page of an unknown
 * session is NOT_FOUND.
 */
export async function listSessionRecords<Item>(
  knex: Knex,
  options: {
    table: string;
    columns: readonly string[];
    sessionId: string;
    limit: number;
    cursor: string | undefined;
    filter?: (query: Knex.QueryBuilder) => void;
    toItem: (row: Record<string, unknown>) => Item;
  },
): Promise<{ items: Item[]; nextCursor: string | null }> {
  const query = knex(options.table)
    .select([...options.columns, knex.raw(`${timestampKey("created_at")} AS cursor_key`)])
    .where("session_id", options.sessionId)
    .orderBy([
      { column: "created_at", order: "asc" },
      { column: "id", order: "asc" },
    ])
    .limit(options.limit + 1);
  options.filter?.(query);
  if (options.cursor !== undefined) {
    const values = decodeCursor(options.cursor, ["string", "string"]);
    assertCursorValues(values, ["timestamp", "uuid"]);
    query.whereRaw("(created_at, id) > (?::timestamptz, ?::uuid)", values);
  }
  const rows = (await query) as Array<Record<string, unknown>>;
  if (rows.length === 0 && options.cursor === undefined) await assertSessionExists(knex, options.sessionId);
  return toPage(
    rows,
    options.limit,
    ({ cursor_key: _key, ...row }) => options.toItem(row),
    (row) => [String(row.cursor_key), String(row.id)],
  );
}
