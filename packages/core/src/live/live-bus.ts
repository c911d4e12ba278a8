import type { Event, Session } from "@logbook/contracts";
import { SessionModel, type Knex } from "@logbook/db";
import pg from "pg";

import { invalidInput } from "../errors.js";
import { EVENT_COLUMNS, toEventDto, type EventRow } from "../events/event-dto.js";
import { SESSION_COLUMNS, toSessionDto } from "../sessions/session-dto.js";
import { AsyncQueue } from "./async-queue.js";
import {
  API_KEYS_CHANNEL,
  EVENTS_CHANNEL,
  SESSIONS_CHANNEL,
  type EventsNotice,
  type SessionsNotice,
} from "./notify.js";

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
}

interface SessionSubscriber {
  filter: SessionFilter;
  queue: AsyncQueue<Session>;
}

const REPLAY_PAGE = 500;
const DEDUPE_WINDOW = 5_000;

/**
 * The live-event bus. Writers NOTIFY inside their transactions (delivered on commit);
 * each server process holds one LISTEN connection, fetches each notified range once,
 * and fans it out to its subscribers. Every replica sees every event because every
 * replica listens to the same database. Subscribers resume from a stream position.
 */
export class LiveBus {
  private client: pg.Client | null = null;
  private readonly eventSubscribers = new Set<EventSubscriber>();
  private readonly sessionSubscribers = new Set<SessionSubscriber>();
  private highWater = 0;
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
    },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
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
      this.enqueueDispatch(() => this.onNotification(channel, payload));
    });
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}; LISTEN ${SESSIONS_CHANNEL}; LISTEN ${API_KEYS_CHANNEL}`);
    const reconnected = this.connectedBefore;
    this.connectedBefore = true;
    this.client = client;
    if (reconnected) this.options.onReconnected?.();
    const previous = this.highWater;
    const { rows } = await client.query<{ max: string | null }>("SELECT max(stream_seq) AS max FROM events");
    const current = Number(rows[0]?.max ?? 0);
    if (previous > 0 && current > previous) {
      // Reconnected: notifications sent while we were away are lost, so fetch the gap.
      this.enqueueDispatch(() => this.dispatchRange(previous + 1, current));
    } else {
      this.highWater = Math.max(previous, current);
    }
  }

  private scheduleReconnect(client: pg.Client): void {
    if (this.stopped || this.client !== client || this.reconnectTimer) return;
    this.client = null;
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
      const notice = JSON.parse(payload) as EventsNotice;
      await this.dispatchRange(notice.fromStreamSeq, notice.toStreamSeq);
    } else if (channel === SESSIONS_CHANNEL) {
      const notice = JSON.parse(payload) as SessionsNotice;
      await this.dispatchSessions(notice.sessionIds);
    }
  }

  private async dispatchRange(from: number, to: number): Promise<void> {
    if (to > this.highWater) this.highWater = to;
    if (this.eventSubscribers.size === 0) return;
    for (let after = from - 1; after < to;) {
      const rows = await this.fetchEvents(after, to, {}, REPLAY_PAGE);
      const last = rows.at(-1);
      if (!last) break;
      for (const row of rows) this.fanOut(row);
      after = last.stream_seq;
    }
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
    to: number | null,
    filter: EventFilter,
    limit: number,
  ): Promise<Array<EventRow & { project_id: string | null }>> {
    const query = this.options
      .knex("events as e")
      .join("sessions as s", "s.id", "e.session_id")
      .select([...EVENT_COLUMNS.map((c) => `e.${c}`), "s.project_id"])
      .where("e.stream_seq", ">", after);
    if (to !== null) query.where("e.stream_seq", "<=", to);
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
    };
    // Listen first (buffering), then replay: nothing committed in between is missed.
    this.eventSubscribers.add(subscriber);
    signal?.addEventListener("abort", () => subscriber.queue.close(), { once: true });
    void this.replay(subscriber).catch((error: unknown) => subscriber.queue.fail(error));
    return subscriber.queue;
  }

  private async replay(subscriber: EventSubscriber): Promise<void> {
    let after = await this.resumePosition(subscriber.filter.lastEventId);
    if (after !== null) {
      for (;;) {
        const rows = await this.fetchEvents(after, null, subscriber.filter, REPLAY_PAGE);
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
  if (subscriber.sent.has(row.stream_seq)) return;
  subscriber.sent.add(row.stream_seq);
  subscriber.sentOrder.push(row.stream_seq);
  if (subscriber.sentOrder.length > DEDUPE_WINDOW) {
    const forgotten = subscriber.sentOrder.shift();
    if (forgotten !== undefined) subscriber.sent.delete(forgotten);
  }
  subscriber.queue.push({ id: String(row.stream_seq), event: toEventDto(row) });
}
