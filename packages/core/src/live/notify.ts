import type { Knex } from "@logbook/db";

/** Channel names of the live bus. */
export const EVENTS_CHANNEL = "logbook_events";
export const SESSIONS_CHANNEL = "logbook_sessions";

/** What an events notification carries: which stream range to fetch (payload stays tiny). */
export interface EventsNotice {
  fromStreamSeq: number;
  toStreamSeq: number;
}

export interface SessionsNotice {
  sessionIds: string[];
}

/**
 * NOTIFY inside the writer's transaction: PostgreSQL delivers it on commit, and only
 * then, so listeners never see an event that is rolled back.
 */
export async function notifyEvents(trx: Knex.Transaction | Knex, notice: EventsNotice): Promise<void> {
  await trx.raw("SELECT pg_notify(?, ?)", [EVENTS_CHANNEL, JSON.stringify(notice)]);
}

export async function notifySessions(trx: Knex.Transaction | Knex, sessionIds: string[]): Promise<void> {
  if (sessionIds.length === 0) return;
  // A notification payload must stay under 8000 bytes: 100 ids of 36 characters is plenty.
  for (let i = 0; i < sessionIds.length; i += 100) {
    const notice: SessionsNotice = { sessionIds: sessionIds.slice(i, i + 100) };
    await trx.raw("SELECT pg_notify(?, ?)", [SESSIONS_CHANNEL, JSON.stringify(notice)]);
  }
}
