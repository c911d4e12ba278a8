/**
 * The ingest pipeline: a batch of parsed events in, stored in one transaction with
 * everything derived from them. The steps, in order:
 *   1. `ingestDetailed`: the parsed events enter here, before anything is written (checks,
 *      ids fixed so a retry is the same batch);
 *   2. sessions found or created (`ingest-sessions.ts`), locked in one order, seqs allocated;
 *   3. events inserted, duplicates (same id) dropped;
 *   4. session state, messages, tokens and cost derived from the accepted events only
 *      (`ingest-derivations.ts`), then the live notification.
 * A batch whose sessions this pipeline ingested into before (or has never seen) goes first
 * through `ingest-fast-path.ts`: the same steps in one database call, from the state the
 * pipeline remembers, checked under lock; when the check fails, the steps above run as usual.
 */
import type { IngestResult, ParsedIngestEvent } from "@logbook/contracts";
import type { Knex } from "@logbook/db";
import { v7 as uuidv7 } from "uuid";

import { clockOf, withPrices, type CoreDeps } from "../deps.js";
import { AppError, invalidInput } from "../errors.js";
import { known } from "../invariants.js";
import { cleanText, sanitizeJsonForPostgres, unstorableCharacters } from "../json.js";
import { notifyChanges, notifyStatement } from "../live/notify.js";
import type { PriceBook } from "../pricing/pricing.js";
import { redactEvent } from "../redaction/redact-event.js";
import type { Redactor } from "../redaction/redactor.js";
import { redactorOf } from "../redaction/redact-record.js";
import { atBind, columnBindings, pgArray, type PgArrayElement } from "../sql.js";
import { isUnknownTime, uuidV7Time } from "../time.js";
import { tokenCountProblem } from "./derive.js";
import { applyDerivations, storablePatch, writeSessionsAndNotify, type PreparedEvent } from "./ingest-derivations.js";
import { ingestInOneCall, KnownSessions, stateAfter } from "./ingest-fast-path.js";
import {
  linkParents,
  resolveSessions,
  sessionKeyOf,
  withStorableExternalIds,
  type SessionRow,
} from "./ingest-sessions.js";
import { summaryText } from "./summary-text.js";

type Trx = Knex.Transaction;

/** Tries of a batch that PostgreSQL chose as a deadlock (or serialization) victim, or whose session was deleted meanwhile. */
const DEADLOCK_ATTEMPTS = 3;

/** A session of the batch was deleted after the batch found it: the batch runs again. */
class SessionDeletedMeanwhile extends Error {}

const keyOf = (sessionId: string, id: string, occurredAt: Date) => `${sessionId}|${id}|${occurredAt.getTime()}`;

/** Idempotent batch ingest with state derivation (see the file comment for its steps). */
export class IngestPipeline {
  private readonly knex: Knex;
  private readonly now: () => Date;
  private readonly prices: PriceBook;
  private readonly redactor: Redactor;
  /** What this pipeline's last ingests left each session in: the one-call path starts from it. */
  private readonly knownSessions = new KnownSessions();
  private readonly oneCall: boolean;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
    this.now = clockOf(deps);
    this.prices = withPrices(deps).prices;
    this.redactor = redactorOf(deps);
    this.oneCall = deps.oneCallIngest ?? true;
  }

  /**
   * Stores a batch in one transaction: sessions named by external id are created on
   * first sight, every event gets the next sequence number of its session, and
   * `ON CONFLICT DO NOTHING` drops events already stored. Only the events actually
   * inserted feed the derived session state, messages and token counters, so a
   * retried or re-imported batch changes nothing. `fieldsFromPayload`: see `ingestDetailed`.
   */
  async ingest(
    input: { events: ParsedIngestEvent[] },
    options?: { fieldsFromPayload?: boolean },
  ): Promise<IngestResult> {
    const { accepted, ids, replaced } = await this.ingestDetailed(input, options);
    return ingestResultOf(accepted, ids, replaced);
  }

  /**
   * `ingest`, telling for each event (in input order) whether this call stored it, and how
   * many of its characters were stored as U+FFFD (see `storableEvent`; `fieldsFromPayload`:
   * the events' other fields are copies of payload values, so only the payload is counted).
   * A batch PostgreSQL aborts as a deadlock victim is rolled back whole, so it is simply run
   * again.
   */
  async ingestDetailed(
    input: { events: ParsedIngestEvent[] },
    options: { fieldsFromPayload?: boolean } = {},
  ): Promise<{ accepted: boolean[]; ids: string[]; replaced: number[] }> {
    // Where parsed events enter the pipeline, before anything is written: every ingest path
    // (hooks, batches, imports) passes here, so a check or rewrite of what gets stored goes here.
    input.events.forEach((event, index) => {
      const problem = tokenCountProblem(event);
      if (problem) throw invalidInput(`events[${index}].${problem}`, { index });
    });
    // Secrets out before anything is written or derived (docs/redaction.md), counted per event.
    const redacted = input.events.map((e) => redactEvent(this.redactor, e));
    const storable = redacted.map((r) => storableEvent(r.event, options.fieldsFromPayload ?? false));
    const replaced = storable.map((s) => s.replaced);
    // Ids are fixed before the first attempt, so a retry is the same batch.
    const withIds = {
      events: storable.map(({ event: e }) => withStorableExternalIds(e.id ? e : { ...e, id: uuidv7() })),
      counts: { redactions: redacted.map((r) => r.count), replaced },
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const receivedAt = this.now();
        const timed = timedEvents(withIds.events, receivedAt);
        const fast = this.oneCall
          ? await ingestInOneCall(this.knex, this.knownSessions, timed, receivedAt, (sessionIdOf) =>
              prepareEvents(timed, withIds.counts, receivedAt, sessionIdOf),
            )
          : null;
        return { ...(fast ?? (await this.ingestOnce(withIds))), replaced };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const again = code === "40P01" || code === "40001" || error instanceof SessionDeletedMeanwhile;
        if (attempt < DEADLOCK_ATTEMPTS && again) continue;
        if (error instanceof SessionDeletedMeanwhile) {
          throw new AppError("CONFLICT", "a session of this batch was deleted while the batch was stored, try again");
        }
        throw error;
      }
    }
  }

  private async ingestOnce(input: {
    events: ParsedIngestEvent[];
    counts: EventCounts;
  }): Promise<{ accepted: boolean[]; ids: string[] }> {
    const receivedAt = this.now();
    const events = timedEvents(input.events, receivedAt);

    // The sessions' state as this batch leaves it, remembered once it is committed.
    const after: SessionRow[] = [];
    const result = await this.knex.transaction(async (trx) => {
      const sessions = await resolveSessions(
        trx,
        input.events,
        events.map((x) => (isUnknownTime(x.occurredAt) ? receivedAt : x.occurredAt)),
      );
      const perSession = new Map<string, number>();
      for (const { e } of events) {
        const sessionId = known(sessions.byKey.get(sessionKeyOf(e)), "an event's resolved session").id;
        perSession.set(sessionId, (perSession.get(sessionId) ?? 0) + 1);
      }
      const ids = [...perSession.keys()].sort();
      // Lock the touched sessions in one global order, so concurrent batches cannot deadlock
      // (one session needs no ordering: the update below locks it). NO KEY UPDATE, like the
      // updates themselves: it does not block the KEY SHARE locks that inserting events or
      // child sessions take on a session row for their foreign keys. A child this batch
      // links to its parent is written only after: with the parent among the locked rows
      // (its foreign key's KEY SHARE is then ours already), nothing is locked out of order.
      const locked = [...new Set([...ids, ...sessions.links.flatMap((l) => [l.childId, l.parentId])])].sort();
      const arrivalDated = events.filter((x) => x.arrivalDated);
      if (locked.length > 1 || arrivalDated.length > 0) {
        await trx.raw("SELECT id FROM sessions WHERE id = ANY(?::uuid[]) ORDER BY id FOR NO KEY UPDATE", [locked]);
      }
      await linkParents(trx, sessions.links);
      if (arrivalDated.length > 0) {
        // An arrival-dated event stored before is this one resent: it takes the stored time, so
        // the key matches and ON CONFLICT drops it. Race-free: the sessions are locked above,
        // and every batch of a session takes that lock before it inserts.
        const stored = await trx.raw<{ rows: Array<{ session_id: string; id: string; occurred_at: Date }> }>(
          `SELECT e.session_id, e.id, e.occurred_at FROM events e
             JOIN unnest(?::uuid[], ?::uuid[]) AS k(session_id, id) ON e.session_id = k.session_id AND e.id = k.id`,
          columnBindings(
            arrivalDated.map((x) => sessions.byKey.get(sessionKeyOf(x.e))?.id ?? null),
            arrivalDated.map((x) => x.id),
          ),
        );
        const storedAt = new Map(stored.rows.map((r) => [`${r.session_id}|${r.id}`, r.occurred_at]));
        for (const x of arrivalDated) {
          const at = storedAt.get(`${sessions.byKey.get(sessionKeyOf(x.e))?.id ?? ""}|${x.id}`);
          if (at) x.occurredAt = at;
        }
      }
      const prepared = prepareEvents(
        events,
        input.counts,
        receivedAt,
        (e) => known(sessions.byKey.get(sessionKeyOf(e)), "an event's resolved session").id,
      );

      const inserted = await insertEvents(trx, prepared, ids, perSession);
      const streamSeqs = [...inserted.values()].map((r) => r.streamSeq);
      // Each inserted row accepts one event: a second copy of the same key in this batch is a duplicate.
      const accepted = prepared.filter((p) => {
        const row = inserted.get(keyOf(p.sessionId, p.id, p.occurredAt));
        if (row === undefined) return false;
        inserted.delete(keyOf(p.sessionId, p.id, p.occurredAt));
        p.seq = row.seq;
        return true;
      });
      // An event not inserted is a duplicate, unless its session was deleted after this batch
      // found it (a delete of its tree committed while this batch waited for the row): nothing
      // of such a batch may be reported stored or duplicate, it runs again (and creates the
      // session anew, or finds an id that is gone). Checked only when something was not
      // inserted: a batch of new events pays nothing.
      if (accepted.length < prepared.length) {
        const { rows } = await trx.raw<{ rows: Array<{ n: number }> }>(
          "SELECT count(*)::int AS n FROM sessions WHERE id = ANY(?::uuid[])",
          [ids],
        );
        if ((rows[0]?.n ?? 0) < ids.length) throw new SessionDeletedMeanwhile();
      }
      const patches = new Map<string, Record<string, unknown>>();
      if (accepted.length > 0) {
        const { changed, sessionUpdates, derivations } = await applyDerivations(
          trx,
          this.prices,
          sessions.byId,
          accepted,
        );
        for (const { sessionId, derived } of derivations) patches.set(sessionId, storablePatch(derived).patch);
        changed.push(...(await addSessionCounts(trx, accepted)));
        const notice = notifyStatement({
          events: { fromStreamSeq: Math.min(...streamSeqs), toStreamSeq: Math.max(...streamSeqs) },
          sessionIds: [...new Set([...sessions.created, ...changed])],
        });
        await writeSessionsAndNotify(trx, sessionUpdates, notice);
      } else {
        await notifyChanges(trx, { sessionIds: sessions.created });
      }
      for (const row of sessions.byId.values()) after.push(stateAfter(row, patches.get(row.id) ?? {}));
      const stored = new Set(accepted.map((p) => p.index));
      return { accepted: prepared.map((p) => stored.has(p.index)), ids: prepared.map((p) => p.id) };
    });
    for (const row of after) this.knownSessions.remember(row);
    return result;
  }
}

/** The answer to an ingest call: counts over the events it stored. */
export function ingestResultOf(accepted: boolean[], ids: string[], replaced: number[]): IngestResult {
  let acceptedCount = 0;
  let replacedCharacters = 0;
  accepted.forEach((stored, index) => {
    if (!stored) return;
    acceptedCount += 1;
    replacedCharacters += replaced[index] ?? 0;
  });
  return { accepted: acceptedCount, duplicates: ids.length - acceptedCount, ids, replacedCharacters };
}

/**
 * The event as it can be stored: NUL characters and lone UTF-16 surrogates in its payload
 * become U+FFFD here, once (its text fields are cleaned where they are written), and the
 * number of characters so replaced in the whole event, payload and fields alike (only the
 * payload when the fields are copies of its values). The common payload has none: this
 * walks it once more only when it had some.
 */
function storableEvent(
  e: ParsedIngestEvent,
  fieldsFromPayload: boolean,
): { event: ParsedIngestEvent; replaced: number } {
  const payload = sanitizeJsonForPostgres(e.payload);
  let replaced = payload === e.payload ? 0 : unstorableCharacters(e.payload);
  if (!fieldsFromPayload) {
    for (const [field, value] of Object.entries(e)) if (field !== "payload") replaced += unstorableCharacters(value);
  }
  return { event: payload === e.payload ? e : { ...e, payload }, replaced };
}

/** An event with its id and time fixed for this attempt. */
export interface TimedEvent {
  e: ParsedIngestEvent;
  index: number;
  id: string;
  occurredAt: Date;
  /** Dated on arrival: the caller's own id with no time in it and no occurredAt. */
  arrivalDated: boolean;
}

/** Each event's id and time: its own, else the time in its UUIDv7 id, else the arrival time. */
export function timedEvents(events: ParsedIngestEvent[], receivedAt: Date): TimedEvent[] {
  return events.map((e, index) => {
    const id = e.id ?? uuidv7();
    const occurredAt = e.occurredAt ? new Date(e.occurredAt) : (uuidV7Time(id) ?? receivedAt);
    // The caller's own id with no time in it and no occurredAt: dated on arrival, so a
    // resend would get another occurred_at, another key and another partition. Checked by id.
    const arrivalDated = e.id !== undefined && !e.occurredAt && uuidV7Time(id) === null;
    return { e, index, id, occurredAt, arrivalDated };
  });
}

/** Per event, in input order: secrets redacted, and characters stored as U+FFFD. */
export interface EventCounts {
  redactions: number[];
  replaced: number[];
}

/**
 * The events ready to insert. `seq` is each event's place among its session's events of this
 * batch (1, 2, …); the insert adds the session's last seq, which it bumps in the same statement.
 */
export function prepareEvents(
  events: TimedEvent[],
  counts: EventCounts,
  receivedAt: Date,
  sessionIdOf: (e: ParsedIngestEvent) => string,
): PreparedEvent[] {
  const place = new Map<string, number>();
  return events.map(({ e, index, id, occurredAt }) => {
    const sessionId = sessionIdOf(e);
    const seq = (place.get(sessionId) ?? 0) + 1;
    place.set(sessionId, seq);
    return {
      index,
      id,
      input: e,
      sessionKey: sessionKeyOf(e),
      sessionId,
      seq,
      redactions: known(counts.redactions[index], "an event's redaction count"),
      replacedCharacters: known(counts.replaced[index], "an event's count of replaced characters"),
      eventType: e.eventType,
      source: e.source,
      occurredAt,
      // Storable since it entered (storableEvent).
      payload: e.payload,
      receivedAt,
      message: e.message ?? summaryText(e.source, e.eventType, e.payload),
      cwd: e.cwd,
      machineId: e.machineId,
      agentType: e.agentType,
    };
  });
}

/**
 * One statement: the touched sessions' `last_event_seq` bumped by their event counts (a
 * data-modifying WITH) and the events inserted with seq = the session's previous last seq +
 * the event's place in the batch, via unnest (20 parameters whatever the batch size). The rows
 * go in sorted by their place in the batch: `stream_seq` is drawn as rows are inserted, the
 * join may emit them in any order (a nested loop over sessions, an unstable sort for a merge
 * join), and the live feed delivers by `stream_seq`, so a batch must take its positions in the
 * order it was sent. Returns
 * the inserted rows by key with their stream position and seq. A duplicate (ON CONFLICT) still
 * used its seq: a gap, as before.
 */
async function insertEvents(
  trx: Trx,
  events: PreparedEvent[],
  sessionIds: string[],
  perSession: Map<string, number>,
): Promise<Map<string, { streamSeq: number; seq: number }>> {
  const result = await trx.raw<{
    rows: Array<{ id: string; session_id: string; occurred_at: Date; stream_seq: number; seq: string }>;
  }>(
    // Payloads travel as one JSON array, taken apart by position: one jsonb parse of the
    // whole document instead of a text[] literal (every quote escaped by the driver,
    // unescaped by PostgreSQL) and a parse per element.
    `WITH bumped AS (
       UPDATE sessions AS s SET last_event_seq = s.last_event_seq + v.n
       FROM unnest(?::uuid[], ?::int[]) AS v(id, n) WHERE s.id = v.id
       RETURNING s.id, s.last_event_seq - v.n AS base
     )
     INSERT INTO events (id, session_id, seq, event_type, source, level, message, tool_name, tool_use_id,
       parent_event_id, parent_uuid, is_sidechain, agent_id, cwd, machine_id, occurred_at, redactions,
       replaced_characters, payload)
     SELECT t.id, t.session_id, b.base + t.seq, t.event_type, t.source, t.level, t.message, t.tool_name, t.tool_use_id,
       t.parent_event_id, t.parent_uuid, t.is_sidechain, t.agent_id, t.cwd, t.machine_id, t.occurred_at,
       t.redactions, t.replaced_characters, p.payloads -> (t.position::int - 1)
     FROM unnest(?::uuid[], ?::uuid[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
       ?::text[], ?::uuid[], ?::text[], ?::boolean[], ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::int[],
       ?::int[])
       WITH ORDINALITY AS t(id, session_id, seq, event_type, source, level, message, tool_name, tool_use_id,
         parent_event_id, parent_uuid, is_sidechain, agent_id, cwd, machine_id, occurred_at, redactions,
         replaced_characters, position)
     JOIN bumped AS b ON b.id = t.session_id
     CROSS JOIN (SELECT ?::jsonb AS payloads) AS p
     ORDER BY t.position
     ON CONFLICT DO NOTHING
     RETURNING id, session_id, occurred_at, stream_seq, seq`,
    columnBindings(
      sessionIds,
      sessionIds.map((id) => known(perSession.get(id), "a session's event count")),
      ...eventColumns(events),
    ),
  );
  return new Map(
    result.rows.map((r) => [keyOf(r.session_id, r.id, r.occurred_at), { streamSeq: r.stream_seq, seq: Number(r.seq) }]),
  );
}

/**
 * The events as 18 columns for `unnest(?::uuid[] id, ?::uuid[] session_id, ?::bigint[] place, …,
 * ?::int[] redactions, ?::int[] replaced_characters)` and their payloads as one JSON array
 * (taken apart by position: one jsonb parse of the whole document instead of a text[] literal
 * and a parse per element).
 */
export function eventColumns(events: PreparedEvent[]): unknown[] {
  // Each column as its array literal in one piece (see pgArray), made when the statement is
  // sent (see atBind).
  const col = (pick: (e: PreparedEvent) => PgArrayElement) => atBind(() => pgArray(events.map(pick)));
  const text = (value: string | undefined) => (value === undefined ? null : cleanText(value));
  return [
    col((e) => e.id),
    col((e) => e.sessionId),
    col((e) => e.seq),
    col((e) => e.eventType),
    col((e) => e.source),
    col((e) => e.input.level),
    col((e) => text(e.message)),
    col((e) => text(e.input.toolName)),
    col((e) => text(e.input.toolUseId)),
    col((e) => e.input.parentEventId ?? null),
    col((e) => text(e.input.parentUuid)),
    col((e) => e.input.isSidechain ?? false),
    col((e) => text(e.input.agentId)),
    col((e) => text(e.cwd)),
    col((e) => text(e.machineId)),
    col((e) => e.occurredAt.toISOString()),
    col((e) => e.redactions),
    col((e) => e.replacedCharacters),
    atBind(() => JSON.stringify(events.map((e) => e.payload))),
  ];
}

/**
 * Adds the accepted events' counts of redactions and replaced characters to their sessions;
 * returns the sessions it changed. A statement only when an event has either (rare), so most
 * batches pay nothing.
 */
async function addSessionCounts(trx: Trx, accepted: PreparedEvent[]): Promise<string[]> {
  const bySession = sessionCounts(accepted);
  if (bySession.size === 0) return [];
  const sums = [...bySession.values()];
  await trx.raw(
    `UPDATE sessions AS s SET redactions = s.redactions + v.redactions,
       replaced_characters = s.replaced_characters + v.replaced
     FROM unnest(?::uuid[], ?::int[], ?::int[]) AS v(id, redactions, replaced) WHERE s.id = v.id`,
    columnBindings(
      [...bySession.keys()],
      sums.map((c) => c.redactions),
      sums.map((c) => c.replaced),
    ),
  );
  return [...bySession.keys()];
}

/** The events' counts summed per session, for the sessions where either is above 0. */
export function sessionCounts(events: PreparedEvent[]): Map<string, { redactions: number; replaced: number }> {
  const bySession = new Map<string, { redactions: number; replaced: number }>();
  for (const p of events) {
    if (p.redactions === 0 && p.replacedCharacters === 0) continue;
    const sum = bySession.get(p.sessionId) ?? { redactions: 0, replaced: 0 };
    sum.redactions += p.redactions;
    sum.replaced += p.replacedCharacters;
    bySession.set(p.sessionId, sum);
  }
  return bySession;
}
