import { readdirSync } from "node:fs";
import { join } from "node:path";

import type { Knex } from "@logbook/db";
import type { TestDatabase } from "@logbook/db/testing";
import type { TestServer } from "@logbook/server/testing";

import { useRealServer } from "./real-server.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

/**
 * End to end: the built `logbook-hook` binary against the real, built Logbook server on a
 * real PostgreSQL database (see real-server.ts). What the server stored is read back from
 * that database. `startE2E()` in a test file starts them for that file; `e2e` reads them,
 * and the helpers below use them.
 */
let real: { readonly db: TestDatabase; readonly server: TestServer } | undefined;

export function startE2E(serverEnv: Record<string, string> = {}): void {
  real = useRealServer(serverEnv);
}

export const e2e = {
  get db(): TestDatabase {
    return expectDefined(real).db;
  },
  get server(): TestServer {
    return expectDefined(real).server;
  },
};

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(expectDefined(items[index]), index);
      }
    }),
  );
  return results;
}

/**
 * JSON with sorted keys, so a payload compares equal after a trip through jsonb. NUL and lone
 * UTF-16 surrogates (some real payloads have them) cannot be stored by PostgreSQL: the server
 * replaces them with U+FFFD, in values and keys, and so does this.
 */
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const clean = (text: string) => text.replace(UNSTORABLE, "\ufffd");

/** How many characters of a payload the server stores as U+FFFD (counted here on our own). */
export function unstorableCount(value: unknown): number {
  if (typeof value === "string") return value.match(UNSTORABLE)?.length ?? 0;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + unstorableCount(item), 0);
  if (value !== null && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>).reduce(
      (sum, [k, v]) => sum + unstorableCount(k) + unstorableCount(v),
      0,
    );
  }
  return 0;
}

/**
 * The log's lines saying the server stored characters as U+FFFD, taken out of `lines`, with
 * the characters they count added up.
 */
export function replacedLines(lines: string[]): { rest: string[]; replaced: number } {
  const said = / warn .*: (\d+) characters? PostgreSQL cannot hold stored as U\+FFFD$/;
  let replaced = 0;
  const rest = lines.filter((line) => {
    const match = said.exec(line);
    if (match) replaced += Number(match[1]);
    return match === null;
  });
  return { rest, replaced };
}

export function canonical(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(clean(value));
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => [clean(k), v] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function spoolFiles(home: string): string[] {
  try {
    return readdirSync(join(home, "spool")).filter((name) => name.endsWith(".json"));
  } catch {
    return [];
  }
}

export function rejectedFiles(home: string): string[] {
  try {
    // `<entry>.reason` beside a rejected entry says why it is there
    return readdirSync(join(home, "spool", "rejected")).filter((name) => name !== "tmp" && !name.endsWith(".reason"));
  } catch {
    return [];
  }
}

/** Rows of a read-only SQL query on the test database (what the server stored). */
export async function rowsOf<T>(sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<T[]> {
  const result = await e2e.db.knex.raw<{ rows: T[] }>(sql, bindings);
  return result.rows;
}

export async function countOf(sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<number> {
  const [row] = await rowsOf<{ n: string | number }>(`SELECT count(*) AS n FROM (${sql}) AS q`, bindings);
  return Number(expectDefined(row).n);
}

export const emitterEnv = (home: string, extra: Record<string, string | undefined> = {}) => ({
  LOGBOOK_HOME: home,
  LOGBOOK_URL: e2e.server.url,
  LOGBOOK_API_KEY: e2e.server.apiKey,
  ...extra,
});
