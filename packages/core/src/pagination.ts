import { invalidInput } from "./errors.js";

/**
 * Keyset cursors: an opaque base64url token holding the sort key of the last row
 * returned. Stable under inserts, and each page costs one index range scan.
 */
export function encodeCursor(values: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(values), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, shape: ReadonlyArray<"string" | "number">): Array<string | number> {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidInput("cursor is not one this API returned");
  }
  if (!Array.isArray(values) || values.length !== shape.length || values.some((v, i) => typeof v !== shape[i])) {
    throw invalidInput("cursor is not one this API returned");
  }
  return values as Array<string | number>;
}

/** Splits `limit + 1` fetched rows into a page and the cursor of its last row. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  map: (row: Row) => Item,
  cursorOf: (row: Row) => ReadonlyArray<string | number>,
): { items: Item[]; nextCursor: string | null } {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(map),
    nextCursor: hasMore && last !== undefined ? encodeCursor(cursorOf(last)) : null,
  };
}

/** Escapes LIKE wildcards so user text matches literally. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
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

/** A cursor of one text key (a path): decoded and checked, or a 400. */
export function decodeTextCursor(cursor: string): string {
  const [value] = decodeCursor(cursor, ["string"]);
  if (typeof value !== "string") throw invalidInput("cursor is not one this API returned");
  assertCursorValues([value], ["text"]);
  return value;
}
