import type { Knex } from "@logbook/db";

/** Channel names of the live bus. */
export const EVENTS_CHANNEL = "logbook_events";
export const SESSIONS_CHANNEL = "logbook_sessions";
/** Payload: the id of a revoked API key (`ApiKeyService.revoke`). */
export const API_KEYS_CHANNEL = "logbook_api_keys";

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
 * then, so listeners never see an event that is rolled back. All notices of one write go
 * in one statement (one round trip).
 */
export async function notifyChanges(
  trx: Knex.Transaction | Knex,
  changes: { events?: EventsNotice | undefined; sessionIds?: string[] | undefined },
): Promise<void> {
  const statement = notifyStatement(changes);
  if (statement) await trx.raw(statement.sql, statement.bindings);
}

/**
 * The `SELECT pg_notify(…), …` of `notifyChanges`, for a writer that sends it as the tail of
 * its last statement (ingest: `WITH updated AS (UPDATE …) SELECT pg_notify(…)`); null when
 * there is nothing to tell.
 */
export function notifyStatement(changes: {
  events?: EventsNotice | undefined;
  sessionIds?: string[] | undefined;
}): { sql: string; bindings: string[] } | null {
  const notices: Array<[string, string]> = [];
  if (changes.events) notices.push([EVENTS_CHANNEL, JSON.stringify(changes.events)]);
  for (const payload of sessionsNoticePayloads(changes.sessionIds ?? [])) notices.push([SESSIONS_CHANNEL, payload]);
  if (notices.length === 0) return null;
  return { sql: `SELECT ${notices.map(() => "pg_notify(?, ?)").join(", ")}`, bindings: notices.flat() };
}

/** The payloads of the sessions notices for these ids (several when there are many). */
export function sessionsNoticePayloads(ids: string[]): string[] {
  const payloads: string[] = [];
  // A notification payload must stay under 8000 bytes: 100 ids of 36 characters is plenty.
  for (let i = 0; i < ids.length; i += 100) {
    const notice: SessionsNotice = { sessionIds: ids.slice(i, i + 100) };
    payloads.push(JSON.stringify(notice));
  }
  return payloads;
}

export async function notifySessions(trx: Knex.Transaction | Knex, sessionIds: string[]): Promise<void> {
  await notifyChanges(trx, { sessionIds });
}
