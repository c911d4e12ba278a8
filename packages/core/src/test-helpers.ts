import type { Knex } from "@logbook/db";
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { AppError } from "./errors.js";
import { notifyChanges } from "./live/notify.js";
import { SessionService } from "./sessions/session-service.js";

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

/**
 * A transaction that writes one event (payload `{ tag }`) of a session of its own and stays
 * open until told, notifying on commit as ingest does: two of them, committed in the order a
 * test picks, are an out-of-order commit for the live bus.
 */
export async function openStreamWriter(knex: Knex, tag: string) {
  const session = await new SessionService({ knex }).create({ externalId: `gap-${tag}-${randomUUID()}` });
  const trx = await knex.transaction();
  const { rows } = await trx.raw<{ rows: Array<{ stream_seq: string }> }>(
    `INSERT INTO events (id, session_id, seq, event_type, source, occurred_at, payload)
     VALUES (?, ?, 1, 'tick', 'api', now(), ?) RETURNING stream_seq`,
    [randomUUID(), session.id, JSON.stringify({ tag })],
  );
  const streamSeq = Number(expectDefined(rows[0]).stream_seq);
  return {
    streamSeq,
    commit: async () => {
      await notifyChanges(trx, { events: { fromStreamSeq: streamSeq, toStreamSeq: streamSeq } });
      await trx.commit();
    },
    rollback: () => trx.rollback(),
  };
}
