import type { Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { Redactor } from "./redactor.js";

/** Stateless: the one every service uses when its deps bring no redactor of their own. */
const DEFAULT_REDACTOR = new Redactor();

/** The redactor of these deps (the server's settings), else the built-in rules, on. */
export function redactorOf(deps: CoreDeps): Redactor {
  return deps.redactor ?? DEFAULT_REDACTOR;
}

/**
 * The input of a write with its free text replaced where it holds secrets: the named fields
 * (strings, string lists, JSON values) go through the redactor as event payloads do, the
 * rest (ids, numbers, enums) is left alone. Every service that writes text a person or an
 * agent gave (messages, files, steps, artifacts, session titles and labels, job data) passes
 * its input here before the write, so nothing it stores holds a secret the rules know.
 */
export function redactFields<T extends object, K extends keyof T>(
  redactor: Redactor,
  input: T,
  fields: readonly K[],
): { input: T; count: number } {
  if (!redactor.enabled) return { input, count: 0 };
  let count = 0;
  let out: T | undefined;
  for (const field of fields) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    const redacted = redactor.json(value);
    if (redacted.count === 0) continue;
    count += redacted.count;
    (out ??= { ...input })[field] = redacted.value;
  }
  return { input: out ?? input, count };
}

/**
 * Adds `count` replaced secrets to the session's count (`sessions.redactions`, in the API's
 * Session), in the caller's transaction so the write and its count go together.
 */
export async function countRedactions(db: Knex, sessionId: string | null | undefined, count: number): Promise<void> {
  if (count === 0 || !sessionId) return;
  await db.raw("UPDATE sessions SET redactions = redactions + ? WHERE id = ?", [count, sessionId]);
}

/**
 * Runs `write` and counts the secrets replaced in its input on the session the written row
 * belongs to, in one transaction; with nothing replaced (the usual case) it is just `write`
 * on `knex`, no transaction added.
 */
export async function writeRedacted<T>(
  knex: Knex,
  count: number,
  write: (db: Knex) => Promise<T>,
  sessionOf: (written: T) => string | null | undefined,
): Promise<T> {
  if (count === 0) return write(knex);
  return knex.transaction(async (trx) => {
    const written = await write(trx);
    await countRedactions(trx, sessionOf(written), count);
    return written;
  });
}
