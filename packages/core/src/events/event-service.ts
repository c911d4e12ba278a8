import type {
  Event,
  EventIdInput,
  EventPage,
  EventSummaryPage,
  IngestResult,
  ListRecentEventsInput,
  ListSessionEventsInput,
  ParsedIngestEvent,
} from "@logbook/contracts";

import { readerOf, type CoreDeps } from "../deps.js";
import type { EventRow } from "./event-dto.js";
import { EventQueries } from "./event-queries.js";
import { IngestPipeline } from "./ingest-pipeline.js";

/**
 * Events: idempotent batch ingest with state derivation (`ingest-pipeline.ts`), timelines
 * and counts (`event-queries.ts`). One face for the routers and the other services.
 */
export class EventService {
  private readonly pipeline: IngestPipeline;
  private readonly queries: EventQueries;

  constructor(deps: CoreDeps) {
    this.pipeline = new IngestPipeline(deps);
    this.queries = new EventQueries(deps.knex, readerOf(deps));
  }

  /** See `IngestPipeline.ingest`. */
  ingest(input: { events: ParsedIngestEvent[] }, options?: { fieldsFromPayload?: boolean }): Promise<IngestResult> {
    return this.pipeline.ingest(input, options);
  }

  /** See `IngestPipeline.ingestDetailed`. */
  ingestDetailed(
    input: { events: ParsedIngestEvent[] },
    options?: { fieldsFromPayload?: boolean },
  ): Promise<{ accepted: boolean[]; ids: string[]; replaced: number[] }> {
    return this.pipeline.ingestDetailed(input, options);
  }

  /** A session's timeline in its stable order (sequence), resumable with `afterSeq` or the cursor. */
  listForSession(
    input: ListSessionEventsInput & { limit: number },
    options: { payloadText?: boolean } = {},
  ): Promise<EventPage> {
    return this.queries.listForSession(input, options);
  }

  /** The same timeline without payloads (see `eventSummary`): what a dashboard draws. */
  listSummariesForSession(input: ListSessionEventsInput & { limit: number }): Promise<EventSummaryPage> {
    return this.queries.listSummariesForSession(input);
  }

  /** One whole event by id. */
  get(input: EventIdInput): Promise<Event> {
    return this.queries.get(input);
  }

  /** Recent events across sessions, newest first. */
  listRecent(input: ListRecentEventsInput & { limit: number }): Promise<EventPage> {
    return this.queries.listRecent(input);
  }

  /** Events of a session counted by type (seed 002's get_session_event_counts). */
  countsByType(input: { sessionId: string }): Promise<Array<{ eventType: string; count: number }>> {
    return this.queries.countsByType(input);
  }

  /** Events stored after a stream position, oldest first (the live bus replays with this). */
  listAfterStreamSeq(
    afterStreamSeq: number,
    filter: { sessionId?: string; projectId?: string; toStreamSeq?: number },
    limit: number,
  ): Promise<Array<EventRow>> {
    return this.queries.listAfterStreamSeq(afterStreamSeq, filter, limit);
  }
}
