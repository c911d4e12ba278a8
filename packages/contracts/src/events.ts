import { z } from "zod";

import {
  LIMITS,
  eventId,
  isoDateTime,
  jsonObject,
  pageInput,
  page,
  shortText,
  text,
  typeName,
  uuid,
  storedJsonObject,
  storedDateTime,
  RANGE_OUT_OF_ORDER,
  rangeInOrder,
  inputObject,
} from "./common.js";
import { eventLevel, eventSource } from "./enums.js";
import { externalId } from "./sessions.js";

/**
 * One event to ingest. Name its session by Logbook id (`sessionId`) or by the agent's own
 * id (`externalSessionId`, created on first sight). Give every event an `id` (UUIDv7, or the
 * record's own 8-4-4-4-12 id) and an `occurredAt` so a retry is recognised as the same event
 * and stored once.
 */
export const ingestEvent = inputObject({
  id: eventId().optional(),
  sessionId: uuid().optional(),
  externalSessionId: externalId().optional(),
  /** When the session is created by this event: its parent, by external id (subagents). */
  parentExternalSessionId: externalId().optional(),
  eventType: typeName(),
  source: eventSource.default("api"),
  level: eventLevel.default("info"),
  message: text().optional(),
  toolName: shortText().optional(),
  toolUseId: shortText().optional(),
  parentEventId: eventId().optional(),
  parentUuid: shortText().optional(),
  isSidechain: z.boolean().optional(),
  agentId: shortText().optional(),
  agentType: shortText().optional(),
  cwd: text(LIMITS.path).optional(),
  machineId: shortText().optional(),
  /** The whole original record, stored as is. */
  payload: jsonObject().default({}),
  /** Defaults to the time in a UUIDv7 `id`, else to the time of receipt. */
  occurredAt: storedDateTime().optional(),
}).refine((e) => (e.sessionId === undefined) !== (e.externalSessionId === undefined), {
  error: "give exactly one of sessionId or externalSessionId",
  path: ["sessionId"],
});
export type IngestEvent = z.input<typeof ingestEvent>;
export type ParsedIngestEvent = z.output<typeof ingestEvent>;

export const ingestEventsInput = inputObject({
  events: z
    .array(ingestEvent)
    .min(1, { error: "send at least one event" })
    .max(LIMITS.maxBatch, { error: `send at most ${LIMITS.maxBatch} events per call` }),
});
export type IngestEventsInput = z.output<typeof ingestEventsInput>;

export const ingestResult = z.object({
  /** Events stored by this call. */
  accepted: z.number().int(),
  /** Events already stored before (same id): nothing was written for them. */
  duplicates: z.number().int(),
  /** Ids of every event of the call, in the order sent (generated ones included). */
  ids: z.array(z.string()),
  /**
   * Characters PostgreSQL cannot hold (NUL, lone UTF-16 surrogates) that the stored events
   * carry as U+FFFD instead: in payloads, metadata and text fields. 0 when nothing changed.
   */
  replacedCharacters: z.number().int().min(0),
});
export type IngestResult = z.infer<typeof ingestResult>;

export const event = z.object({
  id: z.string(),
  sessionId: z.string(),
  seq: z.number().int(),
  eventType: z.string(),
  source: eventSource,
  level: eventLevel,
  message: z.string().nullable(),
  toolName: z.string().nullable(),
  toolUseId: z.string().nullable(),
  parentEventId: z.string().nullable(),
  parentUuid: z.string().nullable(),
  isSidechain: z.boolean(),
  agentId: z.string().nullable(),
  cwd: z.string().nullable(),
  machineId: z.string().nullable(),
  payload: storedJsonObject(),
  /** Secrets replaced in this event's payload and message before it was stored (docs/redaction.md). */
  redactions: z.number().int().min(0),
  /**
   * Characters of this event PostgreSQL cannot hold (NUL, a lone UTF-16 surrogate), stored
   * as U+FFFD: in the payload, and in the other fields the caller sent.
   */
  replacedCharacters: z.number().int().min(0),
  occurredAt: isoDateTime(),
  receivedAt: isoDateTime(),
});
export type Event = z.infer<typeof event>;

export const listSessionEventsInput = inputObject({
  sessionId: uuid(),
  /** Events after this sequence number (exclusive): resume a timeline. */
  afterSeq: z.number().int().min(0).optional(),
  eventTypes: z.array(typeName()).min(1).max(50).optional(),
  levels: z.array(eventLevel).min(1).optional(),
  from: storedDateTime().optional(),
  to: storedDateTime().optional(),
  ...pageInput,
}).refine(rangeInOrder, RANGE_OUT_OF_ORDER);
export type ListSessionEventsInput = z.output<typeof listSessionEventsInput>;

export const listRecentEventsInput = inputObject({
  eventTypes: z.array(typeName()).min(1).max(50).optional(),
  levels: z.array(eventLevel).min(1).optional(),
  machineId: shortText().optional(),
  projectId: uuid().optional(),
  toolName: shortText().optional(),
  from: storedDateTime().optional(),
  to: storedDateTime().optional(),
  ...pageInput,
}).refine(rangeInOrder, RANGE_OUT_OF_ORDER);
export type ListRecentEventsInput = z.output<typeof listRecentEventsInput>;

export const eventPage = page(event);
export type EventPage = z.infer<typeof eventPage>;

/**
 * An event without its payload: what a timeline draws. A 200-event page of hook traffic is
 * ~350 KB with payloads and a small fraction of that without; `events.get` fetches one
 * whole event when it is opened.
 */
export const eventSummary = event.omit({ payload: true });
export type EventSummary = z.infer<typeof eventSummary>;
export const eventSummaryPage = page(eventSummary);
export type EventSummaryPage = z.infer<typeof eventSummaryPage>;

export const eventCountsInput = inputObject({ sessionId: uuid() });
export const eventTypeCount = z.object({ eventType: z.string(), count: z.number().int() });
export const eventCountsOutput = z.array(eventTypeCount);

/** What the live subscriptions filter on; all optional (all events). */
export const eventStreamInput = inputObject({
  sessionId: uuid().optional(),
  projectId: uuid().optional(),
  /** The last event id the client saw (tRPC sends it on reconnect): resume after it. */
  lastEventId: z.string().max(200).nullish(),
});
export type EventStreamInput = z.output<typeof eventStreamInput>;
