/** The read side of events: timelines, single events, recent events, counts, the live replay. */
import type {
  Event,
  EventIdInput,
  EventPage,
  EventSummaryPage,
  ListRecentEventsInput,
  ListSessionEventsInput,
} from "@logbook/contracts";
import { runPrepared, type Knex, type PreparedStatement } from "@logbook/db";

import { notFound } from "../errors.js";
import { assertCursorValues, decodeCursor, timestampKey, toPage } from "../pagination.js";
import { assertSessionExists } from "../records/session-records.js";
import {
  EVENT_COLUMNS,
  EVENT_SUMMARY_COLUMNS,
  toEventDto,
  toEventDtoWithText,
  toEventSummaryDto,
  type EventRow,
  type EventTextRow,
} from "./event-dto.js";

/**
 * Timelines, recent events and counts read from `reader` (a streaming replica when one is
 * configured: they may lag it by a moment); a single event by id and the live replay read
 * the primary (`knex`): the bus fetches what a NOTIFY just announced, which a replica may
 * not have yet.
 */
export class EventQueries {
  constructor(
    private readonly knex: Knex,
    private readonly reader: Knex = knex,
  ) {}

  /**
   * `payloadText`: the payloads as jsonb's text (`StoredJsonText`), for a caller that writes
   * the page with `stringifyJson` (the server's plain GET path): no parse of ~230 kB per
   * 200-event page into objects only to serialise them again. Anyone else gets objects.
   */
  async listForSession(
    input: ListSessionEventsInput & { limit: number },
    options: { payloadText?: boolean } = {},
  ): Promise<EventPage> {
    if (options.payloadText === true) {
      const rows = (await this.sessionEventsQuery(input, TIMELINE_TEXT)) as EventTextRow[];
      return toPage(rows, input.limit, toEventDtoWithText, (row) => [row.seq]);
    }
    const rows = (await this.sessionEventsQuery(input, TIMELINE)) as EventRow[];
    return toPage(rows, input.limit, toEventDto, (row) => [row.seq]);
  }

  /** The same timeline without payloads (see `eventSummary`): what a dashboard draws. */
  async listSummariesForSession(input: ListSessionEventsInput & { limit: number }): Promise<EventSummaryPage> {
    const rows = (await this.sessionEventsQuery(input, TIMELINE_SUMMARIES)) as Array<Omit<EventRow, "payload">>;
    return toPage(rows, input.limit, toEventSummaryDto, (row) => [row.seq]);
  }

  /** One whole event by id. */
  async get(input: EventIdInput): Promise<Event> {
    const row = (await this.knex("events").select(EVENT_COLUMNS).where("id", input.id).first()) as EventRow | undefined;
    if (!row) throw notFound("event", input.id);
    return toEventDto(row);
  }

  /** A page of a session's events (`limit + 1` rows, for the cursor), NOT_FOUND for an unknown session. */
  private async sessionEventsQuery(
    input: ListSessionEventsInput & { limit: number },
    shape: TimelineShape,
  ): Promise<unknown[]> {
    let after = input.afterSeq ?? -1;
    if (input.cursor) after = Math.max(after, decodeCursor(input.cursor, ["number"])[0] as number);
    const filtered = Boolean(input.eventTypes || input.levels || input.from || input.to);
    const rows = filtered
      ? await this.filteredSessionEvents(input, shape.columns, after)
      : await runPrepared(this.reader, shape.page, [input.sessionId, after, input.limit + 1]);
    // Events exist only under their session: only an empty page needs to ask whether it does.
    // The primary answers: a session just created may not have reached the replica yet, and
    // is then an empty timeline, not an unknown session.
    if (rows.length === 0) await assertSessionExists(this.knex, input.sessionId);
    return rows;
  }

  /** A page narrowed by type, level or time: rarer shapes, built per call. */
  private async filteredSessionEvents(
    input: ListSessionEventsInput & { limit: number },
    columns: readonly string[],
    after: number,
  ): Promise<unknown[]> {
    const query = this.reader("events as e")
      .select(columns.map((c) => (c === PAYLOAD_TEXT ? this.reader.raw(c) : `e.${c}`)))
      .where("e.session_id", input.sessionId);
    if (after >= 0) query.where("e.seq", ">", after);
    if (input.eventTypes) query.whereIn("e.event_type", input.eventTypes);
    if (input.levels) query.whereIn("e.level", input.levels);
    if (input.from) query.where("e.occurred_at", ">=", input.from);
    if (input.to) query.where("e.occurred_at", "<", input.to);
    return (await query.orderBy("e.seq", "asc").limit(input.limit + 1)) as unknown[];
  }

  /** Recent events across sessions, newest first. */
  async listRecent(input: ListRecentEventsInput & { limit: number }): Promise<EventPage> {
    const query = this.reader("events as e").select([
      ...EVENT_COLUMNS.map((c) => `e.${c}`),
      this.reader.raw(`${timestampKey("e.occurred_at")} AS cursor_at`),
    ]);
    if (input.eventTypes) query.whereIn("e.event_type", input.eventTypes);
    if (input.levels) query.whereIn("e.level", input.levels);
    if (input.machineId) query.where("e.machine_id", input.machineId);
    if (input.toolName) query.where("e.tool_name", input.toolName);
    if (input.projectId) {
      query.whereIn("e.session_id", this.reader("sessions").select("id").where("project_id", input.projectId));
    }
    if (input.from) query.where("e.occurred_at", ">=", input.from);
    if (input.to) query.where("e.occurred_at", "<", input.to);
    if (input.cursor) {
      const [at, seq] = decodeCursor(input.cursor, ["string", "number"]) as [string, number];
      assertCursorValues([at], ["timestamp"]);
      query.whereRaw("(e.occurred_at, e.stream_seq) < (?::timestamptz, ?)", [at, seq]);
    }
    const rows = (await query
      .orderBy([
        { column: "e.occurred_at", order: "desc" },
        { column: "e.stream_seq", order: "desc" },
      ])
      .limit(input.limit + 1)) as Array<EventRow & { cursor_at: string }>;
    // The cursor keeps the time to the microsecond: a millisecond one (a JS Date) skipped rows.
    return toPage(rows, input.limit, toEventDto, (row) => [row.cursor_at, row.stream_seq]);
  }

  /** Events of a session counted by type (seed 002's get_session_event_counts). */
  async countsByType(input: { sessionId: string }): Promise<Array<{ eventType: string; count: number }>> {
    const rows = (await this.reader("events")
      .select("event_type")
      .count({ count: "*" })
      .where("session_id", input.sessionId)
      .groupBy("event_type")
      .orderBy([{ column: "count", order: "desc" }, { column: "event_type" }])) as Array<{
      event_type: string;
      count: number | string;
    }>;
    // As for a timeline page: no rows asks the primary whether the session is there at all.
    if (rows.length === 0) await assertSessionExists(this.knex, input.sessionId);
    return rows.map((r) => ({ eventType: r.event_type, count: Number(r.count) }));
  }

  /** Events stored after a stream position, oldest first (the live bus replays with this). */
  async listAfterStreamSeq(
    afterStreamSeq: number,
    filter: { sessionId?: string; projectId?: string; toStreamSeq?: number },
    limit: number,
  ): Promise<Array<EventRow>> {
    const query = this.knex("events as e")
      .select(EVENT_COLUMNS.map((c) => `e.${c}`))
      .where("e.stream_seq", ">", afterStreamSeq);
    if (filter.toStreamSeq !== undefined) query.where("e.stream_seq", "<=", filter.toStreamSeq);
    if (filter.sessionId) query.where("e.session_id", filter.sessionId);
    if (filter.projectId) {
      query.whereIn("e.session_id", this.knex("sessions").select("id").where("project_id", filter.projectId));
    }
    return (await query.orderBy("e.stream_seq", "asc").limit(limit)) as EventRow[];
  }
}

interface TimelineShape {
  columns: readonly string[];
  /** The unfiltered page: a session after a seq. */
  page: PreparedStatement;
}

/**
 * A timeline page as a dashboard asks for it (a session, after a seq, no other filter) is
 * a statement prepared once per pooled connection (issue 15): with the events table split
 * into weekly partitions, planning the page (each partition's indexes considered) cost as
 * much as running it, on every call, and knex's builder and raw path added as much again
 * in Node. `seq > -1` is the first page: seqs start at 1.
 */
function timelineShape(name: string, columns: readonly string[]): TimelineShape {
  return {
    columns,
    page: {
      name,
      text: `SELECT ${columns.map((c) => (c === PAYLOAD_TEXT ? c : `e.${c}`)).join(", ")} FROM events e
  WHERE e.session_id = $1::uuid AND e.seq > $2::bigint ORDER BY e.seq ASC LIMIT $3::int`,
    },
  };
}

/** The payload as jsonb's text, under the column's own name. */
const PAYLOAD_TEXT = "e.payload::text AS payload";
const TIMELINE = timelineShape("logbook_timeline_page", EVENT_COLUMNS);
const TIMELINE_TEXT = timelineShape(
  "logbook_timeline_page_text",
  EVENT_COLUMNS.map((c) => (c === "payload" ? PAYLOAD_TEXT : c)),
);
const TIMELINE_SUMMARIES = timelineShape("logbook_timeline_summary_page", EVENT_SUMMARY_COLUMNS);
