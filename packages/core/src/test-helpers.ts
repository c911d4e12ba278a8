import type { Knex } from "@logbook/db";
import { expect } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { AppError } from "./errors.js";

/** Test-only helpers shared by the services' tests. */
export async function newSession(knex: Knex): Promise<string> {
  const rows = await knex("sessions").insert({}).returning<Array<{ id: string }>>("id");
  return expectDefined(rows[0], "the new session's id").id;
}

export async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

export const NO_SUCH_ID = "00000000-0000-4000-8000-000000000000";

/** Follows `nextCursor` to the end. */
export async function allPages<T>(
  fetch: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await fetch(cursor);
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
    pages += 1;
  } while (cursor);
  return { items, pages };
}
