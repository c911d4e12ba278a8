import type { Event, Session } from "@logbook/contracts";
import { runPrepared, SessionModel, type Knex } from "@logbook/db";
import { randomUUID } from "node:crypto";
import pg from "pg";

import { AppError, invalidInput } from "../errors.js";
import { EVENT_COLUMNS, toEventDto, type EventRow } from "../events/event-dto.js";
import { SESSION_COLUMNS, toSessionDto } from "../sessions/session-dto.js";
import { AsyncQueue } from "./async-queue.js";
import { API_KEYS_CHANNEL, EVENTS_CHANNEL, SESSIONS_CHANNEL, type SessionsNotice } from "./notify.js";

export interface LiveEvent {
  /** Resume token: pass it back as `lastEventId` to continue right after this event. */
  id: string;
  event: Event;
}

export interface EventFilter {
  sessionId?: string | undefined;
  projectId?: string | undefined;
  lastEventId?: string | null | undefined;
}

export interface SessionFilter {
  sessionId?: string | undefined;
  projectId?: string | undefined;
}

interface EventSubscriber {
  filter: EventFilter;
  queue: AsyncQueue<LiveEvent>;
  /** While replaying history, live events wait here. */
  pending: Array<{ row: EventRow & { project_id: string | null } }> | null;
  sent: Set<number>;
  sentOrder: number[];
  /** The position it resumed from: what it already has (another replica handed it out). */
  floor: number;
}

interface SessionSubscriber {
  filter: SessionFilter;
  queue: AsyncQueue<Session>;
}

const REPLAY_PAGE = 500;
const DEDUPE_WINDOW = 5_000;
/**
 * How often the horizon is looked at again while it waits for a writer and no notice comes:
 * a writer that commits wakes the bus by its NOTIFY; one that rolls back sends nothing.
 */
const RECHECK_MS = 100;
/**
 * How often, while someone subscribes to events, the bus reads the horizon even though no
 * notice came (`horizonCheckMs`). A notice is only a wake-up: one that never comes (its
 * sender died between its commit and its notice, or a writer that announces nothing) then
 * delays delivery by at most this, instead of until the next notice.
 */
export const DEFAULT_HORIZON_CHECK_MS = 1_000;

/**
 * Whether the horizon follows the stream: `tracking` while someone subscribes to events;
 * `stale` once nobody did when a notice came (the bus stops reading the horizon, whose
 * value stays a true but old bound); `establishing` while the first subscriber after that
 * waits for a current one.
 */
type HorizonState = "tracking" | "stale" | "establishing";

/** A horizon being established again: what the subscribers who arrived meanwhile wait on. */
interface Establishing {
  /** The lowest position an events notice named since it began (a writer's first position). */
  noticed: { lowest: number };
  /** Where a subscriber that gave no resume point starts (every position after it reaches it). */
  start: Promise<number>;
}

/** Why subscribers waiting for a horizon were turned away: they come back with their resume points. */
const lost = (): AppError =>
  new AppError("UNAVAILABLE", "the live feed lost its database connection while it started; subscribe again", {
    details: { retryAfterSeconds: 1 },
  });

/** One of our own notices on the events channel, awaited until this bus hears (or loses) it. */
interface OwnNotice {
  heard: () => void;
  lost: (error: Error) => void;
}

/** What `logbook_stream_horizon()` answers: the last position drawn, and who may still hold one. */
interface HorizonReading {
  lastSeq: number;
  writers: string[];
}

/**
 * Reads the stream horizon (migration 20261201185054): every position up to `lastSeq` is
 * final once every transaction in `writers` has ended.
 */
export async function readStreamHorizon(knex: Knex): Promise<HorizonReading> {
  // Read after every ingest call's notice: prepared once per connection, sent by the driver.
  const [row] = await runPrepared<{ last_seq: string; writers: string[] }>(knex, HORIZON, []);
  return { lastSeq: Number(row?.last_seq ?? 0), writers: row?.writers ?? [] };
}

const HORIZON = { name: "logbook_stream_horizon", text: "SELECT last_seq, writers FROM logbook_stream_horizon()" };

/**
 * The live-event bus. Writers NOTIFY inside their transactions (delivered on commit);
 * each server process holds one LISTEN connection, fetches each notified range once,
 * and fans it out to its subscribers. Every replica sees every event because every
 * replica listens to the same database. Subscribers resume from a stream position.
 *
 * Positions are handed out in order and only up to the horizon: the highest position below
 * which no writer is still in flight. A sequence's values can commit out of order (T1 draws
 * 100, T2 draws 101, T2 commits first); handing out 101 then would let a client resume
 * after it and never get 100. So a notice only wakes the bus; it reads which positions have
 * been drawn and which writers may still hold some (`readStreamHorizon`), and moves its
 * horizon up to a reading once every writer of that reading has ended. While someone
 * subscribes to events it also reads the horizon every `horizonCheckMs` whatever the notices
 * do: a committed event whose notice never came reaches its subscribers that much later,
 * never not at all.
 *
 * Only while someone subscribes to events: with nobody to hand positions to, a notice costs
 * nothing (no horizon read, no fetch), and the first subscriber after such a quiet spell
 * makes the bus establish a current horizon before anything reaches it (`establish`).
 */
export class LiveBus {
  private client: pg.Client | null = null;
  private readonly eventSubscribers = new Set<EventSubscriber>();
  private readonly sessionSubscribers = new Set<SessionSubscriber>();
  /** Every position up to here is final and has been fanned out (while tracking). */
  private horizon = 0;
  /** Stale until the first subscriber: nobody needed a horizon before. */
  private state: HorizonState = "stale";
  private establishing: Establishing | null = null;
  /** Our own notices that say "every notice before this one has been heard" (`mark`). */
  private readonly marks = new Map<string, OwnNotice>();
  /** A reading waiting for its writers to end before the horizon may move up to it. */
  private candidate: { lastSeq: number; writers: Set<string> } | null = null;
  private advanceQueued = false;
  private recheckTimer: NodeJS.Timeout | null = null;
  /** The periodic horizon check's next run, while someone subscribes to events. */
  private checkTimer: NodeJS.Timeout | null = null;
  /** Our own notices that say "every notice before this one has been handled" (`caughtUp`). */
  private readonly catchingUp = new Map<string, OwnNotice>();
  private stopped = false;
  /** Whether a LISTEN connection was up before: the next one is a reconnection. */
  private connectedBefore = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private dispatching: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: {
      connectionString: string;
      knex: Knex;
      onError?: (error: unknown) => void;
      /** A key was revoked (by any process): forget its cached verification. */
      onKeyRevoked?: (keyId: string) => void;
      /** The LISTEN connection came back: notices sent meanwhile are lost (forget every cached key). */
      onReconnected?: () => void;
      /**
       * While someone subscribes to events, read the horizon at least this often even when
       * no notice comes (ms, > 0). @default DEFAULT_HORIZON_CHECK_MS
       */
      horizonCheckMs?: number;
    },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    this.recheckTimer = null;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = null;
    this.loseMarks();
    for (const s of this.eventSubscribers) s.queue.close();
    for (const s of this.sessionSubscribers) s.queue.close();
    this.eventSubscribers.clear();
    this.sessionSubscribers.clear();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  get subscriberCount(): number {
    return this.eventSubscribers.size + this.sessionSubscribers.size;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString, application_name: "logbook-live" });
    client.on("error", (error) => {
      this.options.onError?.(error);
      this.scheduleReconnect(client);
    });
    client.on("end", () => this.scheduleReconnect(client));
    client.on("notification", (msg) => {
      const { channel, payload } = msg;
      if (!payload) return;
      // At once, not behind the event dispatch queue: a revoked key must stop working now.
      if (channel === API_KEYS_CHANNEL) return this.options.onKeyRevoked?.(payload);
      // Also at once, in arrival order: what an establishing horizon learns from the notices.
      if (channel === EVENTS_CHANNEL && this.heardEventsNotice(payload)) return;
      this.enqueueDispatch(() => this.onNotification(channel, payload));
    });
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}; LISTEN ${SESSIONS_CHANNEL}; LISTEN ${API_KEYS_CHANNEL}`);
    const reconnected = this.connectedBefore;
    this.connectedBefore = true;
    this.client = client;
    if (reconnected) {
      this.options.onReconnected?.();
      // Notices sent while we were away are lost: the horizon reading finds the gap.
      this.wake();
    }
  }

  /**
   * Reads an events notice as it arrives, before the dispatch queue: notes the lowest position
   * a writer names while a horizon is being established, and answers our own marks. True when
   * the notice was a mark of ours (nothing else to do with it).
   */
  private heardEventsNotice(payload: string): boolean {
    let notice: { fromStreamSeq?: unknown; mark?: unknown };
    try {
      notice = JSON.parse(payload) as typeof notice;
    } catch {
      return false; // not ours to judge here: the dispatch reports it as before
    }
    const mark = typeof notice.mark === "string" ? this.marks.get(notice.mark) : undefined;
    if (mark) {
      mark.heard();
      return true;
    }
    const from = Number(notice.fromStreamSeq);
    if (this.establishing && Number.isSafeInteger(from)) {
      this.establishing.noticed.lowest = Math.min(this.establishing.noticed.lowest, from);
    }
    return typeof notice.mark === "string"; // another replica's mark: nothing to wake for
  }

  /**
   * The start of the first subscribers after a quiet spell (state `stale`): one
   * establishment at a time; whoever arrives while it runs waits for the same one.
   */
  private establish(): Promise<number> {
    if (this.establishing) return this.establishing.start;
    const noticed = { lowest: Number.POSITIVE_INFINITY };
    this.state = "establishing";
    const start = this.currentHorizon(noticed).then(
      (position) => {
        this.establishing = null;
        return position;
      },
      (error: unknown) => {
        this.establishing = null;
        this.state = "stale"; // the next subscriber tries again
        throw error;
      },
    );
    start.catch(() => undefined); // each waiting subscriber sees the error
    this.establishing = { noticed, start };
    return start;
  }

  /**
   * Establishes a current horizon and where a subscriber without a resume point starts.
   *
   * The horizon: a reading's last position, once every writer that may hold a position up
   * to it has ended (as at any reading). The start is subtler: everything committed after
   * the first subscriber arrived must reach it, and a writer that commits between that
   * moment and the reading draws a position up to the reading's. Every such writer notifies
   * on commit with its lowest position; the notices arrive in commit order, so once a mark
   * sent after all those writers ended is heard, the lowest position noticed since the start
   * bounds them all. Positions from there up that committed a moment before the subscriber
   * came may reach it too, as they may at any time a subscriber joins while the horizon
   * waits for a writer: never a gap, never twice, in order. Notices are complete only while
   * the LISTEN connection stays up: if it is lost meanwhile, this fails (the subscribers get
   * UNAVAILABLE and come back with their resume points).
   */
  private async currentHorizon(noticed: { lowest: number }): Promise<number> {
    const client = this.client;
    if (!client) throw lost();
    const reading = await readStreamHorizon(this.options.knex);
    let waiting = new Set(reading.writers);
    while (waiting.size > 0) {
      // A writer's transaction is short; this waits for it, not a guess.
      await new Promise((resolve) => setTimeout(resolve, RECHECK_MS / 4));
      if (this.stopped) throw lost();
      const now = new Set((await readStreamHorizon(this.options.knex)).writers);
      waiting = new Set([...waiting].filter((w) => now.has(w)));
    }
    if (this.client !== client) throw lost();
    await this.mark();
    if (this.client !== client || this.stopped) throw lost();
    const start = Math.max(this.horizon, Math.min(noticed.lowest - 1, reading.lastSeq));
    this.horizon = Math.max(this.horizon, reading.lastSeq);
    this.state = "tracking";
    this.wake(); // notices heard meanwhile may have moved past the reading
    this.scheduleCheck();
    return start;
  }

  /** Sends a mark of ours and resolves once the LISTEN connection has heard it. */
  private mark(): Promise<void> {
    return this.ownNotice("mark", this.marks);
  }

  /**
   * Sends `{ [kind]: token }` on the events channel and resolves when `waiting[token]` is
   * answered: on arrival for a mark (`heardEventsNotice`), once the dispatch queue reaches it
   * for a catch-up (`onNotification`). PostgreSQL delivers notices in commit order, so either
   * comes after every notice committed before it. Rejects if the LISTEN connection is lost
   * meanwhile (`loseMarks`): a notice sent on it will never be heard.
   */
  private async ownNotice(kind: "mark" | "caughtUp", waiting: Map<string, OwnNotice>): Promise<void> {
    const token = randomUUID();
    const heard = new Promise<void>((resolve, reject) => waiting.set(token, { heard: resolve, lost: reject }));
    heard.catch(() => undefined); // awaited below unless the NOTIFY itself failed
    try {
      await this.options.knex.raw("SELECT pg_notify(?, ?)", [EVENTS_CHANNEL, JSON.stringify({ [kind]: token })]);
      await heard;
    } finally {
      waiting.delete(token);
    }
  }

  /** The LISTEN connection went away (or the bus stops): our notices sent on it will not be heard. */
  private loseMarks(): void {
    for (const waiting of [this.marks, this.catchingUp]) {
      for (const notice of waiting.values()) notice.lost(lost());
      waiting.clear();
    }
  }

  /** Queues one horizon check; notices that arrive while one waits fold into it. */
  private wake(): void {
    if (this.advanceQueued) return;
    this.advanceQueued = true;
    this.enqueueDispatch(async () => {
      this.advanceQueued = false;
      await this.advance();
    });
  }

  /**
   * Moves the horizon as far as is safe and fans out what it passes over. A reading with no
   * writers is final at once; otherwise it waits as the candidate until all of its writers
   * have ended (a newer reading does not replace it, so steady overlapping writes cannot
   * starve it).
   */
  private async advance(): Promise<void> {
    // Stale: nobody to hand positions to; establishing: `currentHorizon` reads and wakes after.
    if (this.state !== "tracking") return;
    if (this.eventSubscribers.size === 0) {
      // Decided before any await, so a subscriber that arrives later finds the state stale
      // (and establishes) or tracking (and this reading serves it).
      this.state = "stale";
      this.candidate = null;
      return;
    }
    const reading = await readStreamHorizon(this.options.knex);
    const holding = new Set(reading.writers);
    let safe = this.horizon;
    if (this.candidate && ![...this.candidate.writers].some((w) => holding.has(w))) {
      safe = Math.max(safe, this.candidate.lastSeq);
      this.candidate = null;
    }
    if (holding.size === 0) {
      safe = Math.max(safe, reading.lastSeq);
      this.candidate = null;
    } else if (!this.candidate && reading.lastSeq > safe) {
      this.candidate = { lastSeq: reading.lastSeq, writers: holding };
    }
    if (safe > this.horizon) await this.dispatchRange(this.horizon + 1, safe);
    if (this.candidate) this.scheduleRecheck();
  }

  private scheduleRecheck(): void {
    if (this.recheckTimer || this.stopped) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = null;
      if (!this.stopped) this.wake();
    }, RECHECK_MS);
  }

  /**
   * The periodic horizon check: one timer while the bus tracks for someone; it lapses once
   * nobody subscribes to events (and `currentHorizon` starts it again), so an idle bus still
   * reads nothing.
   */
  private scheduleCheck(): void {
    if (this.checkTimer || this.stopped) return;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = null;
      if (this.stopped || this.state !== "tracking" || this.eventSubscribers.size === 0) return;
      this.wake();
      this.scheduleCheck();
    }, this.options.horizonCheckMs ?? DEFAULT_HORIZON_CHECK_MS);
    this.checkTimer.unref();
  }

  private scheduleReconnect(client: pg.Client): void {
    if (this.stopped || this.client !== client || this.reconnectTimer) return;
    this.client = null;
    this.loseMarks();
    client.end().catch(() => undefined);
    const attempt = (delay: number) => {
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (this.stopped) return;
        this.connect().catch((error: unknown) => {
          this.options.onError?.(error);
          attempt(Math.min(delay * 2, 10_000));
        });
      }, delay);
    };
    attempt(250);
  }

  /** Notifications are handled one at a time, in arrival order. */
  private enqueueDispatch(work: () => Promise<void>): void {
    this.dispatching = this.dispatching.then(work).catch((error: unknown) => this.options.onError?.(error));
  }

  private async onNotification(channel: string, payload: string): Promise<void> {
    if (channel === EVENTS_CHANNEL) {
      const token = (JSON.parse(payload) as { caughtUp?: unknown }).caughtUp;
      const caughtUp = typeof token === "string" ? this.catchingUp.get(token) : undefined;
      if (caughtUp) {
        // Behind the horizon checks that the notices before it queued.
        this.enqueueDispatch(() => Promise.resolve(caughtUp.heard()));
        return;
      }
      // The notice's range is not fetched as such: it may lie above a writer still in
      // flight. It only says the horizon may have moved.
      this.wake();
    } else if (channel === SESSIONS_CHANNEL) {
      const notice = JSON.parse(payload) as SessionsNotice;
      await this.dispatchSessions(notice.sessionIds);
    }
  }

  /** Fans out the final positions `from`..`to` in order, then moves the horizon to `to`. */
  private async dispatchRange(from: number, to: number): Promise<void> {
    // The horizon moves with each page, in the same turn as its fan-out: a subscriber added
    // at any await here replays up to the horizon and gets the rest in its pending buffer,
    // overlapping (de-duplicated), never leaving a hole.
    let after = from - 1;
    while (after < to && this.eventSubscribers.size > 0) {
      const rows = await this.fetchEvents(after, to, {}, REPLAY_PAGE);
      for (const row of rows) this.fanOut(row);
      const last = rows.at(-1);
      after = last && rows.length === REPLAY_PAGE ? last.stream_seq : to;
      this.horizon = Math.max(this.horizon, after);
    }
    this.horizon = Math.max(this.horizon, to);
  }

  private fanOut(row: EventRow & { project_id: string | null }): void {
    for (const subscriber of this.eventSubscribers) {
      if (!matches(subscriber.filter, row.session_id, row.project_id)) continue;
      if (subscriber.pending) subscriber.pending.push({ row });
      else deliver(subscriber, row);
    }
  }

  private async dispatchSessions(ids: string[]): Promise<void> {
    if (this.sessionSubscribers.size === 0 || ids.length === 0) return;
    const rows = await SessionModel.query(this.options.knex).select(SESSION_COLUMNS).whereIn("id", ids);
    for (const row of rows) {
      const dto = toSessionDto(row);
      for (const subscriber of this.sessionSubscribers) {
        if (matches(subscriber.filter, dto.id, dto.projectId)) subscriber.queue.push(dto);
      }
    }
  }

  private async fetchEvents(
    after: number,
    to: number,
    filter: EventFilter,
    limit: number,
  ): Promise<Array<EventRow & { project_id: string | null }>> {
    const query = this.options
      .knex("events as e")
      .join("sessions as s", "s.id", "e.session_id")
      .select([...EVENT_COLUMNS.map((c) => `e.${c}`), "s.project_id"])
      .where("e.stream_seq", ">", after)
      .where("e.stream_seq", "<=", to);
    if (filter.sessionId) query.where("e.session_id", filter.sessionId);
    if (filter.projectId) query.where("s.project_id", filter.projectId);
    return (await query.orderBy("e.stream_seq", "asc").limit(limit)) as Array<EventRow & { project_id: string | null }>;
  }

  private async resumePosition(lastEventId: string | null | undefined): Promise<number | null> {
    if (lastEventId === null || lastEventId === undefined || lastEventId === "") return null;
    if (/^\d{1,18}$/.test(lastEventId)) return Number(lastEventId);
    if (/^[0-9a-f-]{36}$/i.test(lastEventId)) {
      const row = (await this.options.knex("events").select("stream_seq").where("id", lastEventId).first()) as
        { stream_seq: number } | undefined;
      if (row) return row.stream_seq;
    }
    throw invalidInput("lastEventId is not a position this server handed out");
  }

  /**
   * Events as they are stored, filtered by session or project. With `lastEventId`, first
   * replays everything stored after that position, then continues live without a gap.
   */
  events(filter: EventFilter, signal?: AbortSignal): AsyncIterable<LiveEvent> {
    const subscriber: EventSubscriber = {
      filter,
      queue: new AsyncQueue<LiveEvent>(10_000, () => this.eventSubscribers.delete(subscriber)),
      pending: [],
      sent: new Set(),
      sentOrder: [],
      floor: 0,
    };
    // Listen first (buffering), then replay: nothing committed in between is missed.
    this.eventSubscribers.add(subscriber);
    // After a quiet spell the horizon is old: wait for a current one (in the same turn as
    // joining, so its notices count from here).
    const start = this.state === "tracking" ? null : this.establish();
    if (start === null) this.scheduleCheck();
    signal?.addEventListener("abort", () => subscriber.queue.close(), { once: true });
    void this.replay(subscriber, start).catch((error: unknown) => subscriber.queue.fail(error));
    return subscriber.queue;
  }

  private async replay(subscriber: EventSubscriber, start: Promise<number> | null): Promise<void> {
    let after = await this.resumePosition(subscriber.filter.lastEventId);
    if (start) {
      // A resume point replays up to the established horizon; without one, the subscriber
      // gets everything after the start established for it.
      const established = await start;
      after ??= established;
    }
    if (after !== null) {
      subscriber.floor = after;
      // Up to the horizon only: above it a writer may still be in flight, and what lies
      // there reaches the pending buffer when the horizon passes it.
      for (;;) {
        const bound = this.horizon;
        if (after >= bound) break;
        const rows = await this.fetchEvents(after, bound, subscriber.filter, REPLAY_PAGE);
        for (const row of rows) deliver(subscriber, row);
        const last = rows.at(-1);
        if (!last || rows.length < REPLAY_PAGE) break;
        after = last.stream_seq;
      }
    }
    const pending = subscriber.pending ?? [];
    subscriber.pending = null;
    for (const { row } of pending) deliver(subscriber, row);
  }

  /**
   * Resolves once this bus has handled every events notice committed before the call (and
   * the horizon check each one asked for). PostgreSQL delivers notices in commit order, so
   * a notice of our own, sent now, arrives after all of them. Rejects (UNAVAILABLE) if the
   * LISTEN connection is lost first, instead of waiting for a notice that will never come.
   */
  caughtUp(): Promise<void> {
    return this.ownNotice("caughtUp", this.catchingUp);
  }

  /** Sessions as they change (created, derived state, status, archive, delete). */
  sessions(filter: SessionFilter, signal?: AbortSignal): AsyncIterable<Session> {
    const subscriber: SessionSubscriber = {
      filter,
      queue: new AsyncQueue<Session>(10_000, () => this.sessionSubscribers.delete(subscriber)),
    };
    this.sessionSubscribers.add(subscriber);
    signal?.addEventListener("abort", () => subscriber.queue.close(), { once: true });
    return subscriber.queue;
  }
}

function matches(
  filter: { sessionId?: string | undefined; projectId?: string | undefined },
  sessionId: string,
  projectId: string | null,
): boolean {
  if (filter.sessionId && filter.sessionId !== sessionId) return false;
  if (filter.projectId && filter.projectId !== projectId) return false;
  return true;
}

function deliver(subscriber: EventSubscriber, row: EventRow): void {
  if (row.stream_seq <= subscriber.floor || subscriber.sent.has(row.stream_seq)) return;
  subscriber.sent.add(row.stream_seq);
  subscriber.sentOrder.push(row.stream_seq);
  if (subscriber.sentOrder.length > DEDUPE_WINDOW) {
    const forgotten = subscriber.sentOrder.shift();
    if (forgotten !== undefined) subscriber.sent.delete(forgotten);
  }
  subscriber.queue.push({ id: String(row.stream_seq), event: toEventDto(row) });
}
