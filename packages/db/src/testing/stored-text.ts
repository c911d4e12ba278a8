import type { Knex } from "knex";

import { TABLES, type TableName } from "../tables.js";

function collect(value: unknown, into: string[]): void {
  if (value === null || value === undefined) return;
  if (typeof value === "string") into.push(value);
  else if (value instanceof Date) into.push(value.toISOString());
  else if (Buffer.isBuffer(value)) into.push(value.toString("utf8"));
  else if (Array.isArray(value)) for (const item of value) collect(item, into);
  else if (typeof value === "object") {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      into.push(key);
      collect(item, into);
    }
  } else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    into.push(String(value));
  }
}

/**
 * Everything stored in every table (`TABLES`), as the texts it holds: each column's value,
 * and inside JSON every key and every string, unescaped. For tests that prove something is
 * NOT stored anywhere (a planted secret): searching these texts finds a value whatever column
 * or JSON depth it landed in, where searching `row::text` would miss one that PostgreSQL's
 * text output escaped (a newline, a quote).
 */
export async function storedText(knex: Knex): Promise<Map<TableName, string[]>> {
  const out = new Map<TableName, string[]>();
  for (const table of TABLES) {
    const texts: string[] = [];
    collect(await knex(table).select("*"), texts);
    out.set(table, texts);
  }
  return out;
}

/** The tables whose stored text contains `needle`, with the first text that does. */
export async function tablesContaining(
  knex: Knex,
  needles: readonly string[],
): Promise<Array<{ table: string; needle: string; text: string }>> {
  const found: Array<{ table: string; needle: string; text: string }> = [];
  for (const [table, texts] of await storedText(knex)) {
    for (const needle of needles) {
      const text = texts.find((t) => t.includes(needle));
      if (text !== undefined) found.push({ table, needle, text: text.slice(0, 300) });
    }
  }
  return found;
}
