import { StoredJsonText, type Event, type EventLevel, type EventSource, type EventSummary } from "@logbook/contracts";

import { iso } from "../time.js";

/** Columns of an event DTO; `stream_seq` is selected too, for resume tokens. */
export const EVENT_COLUMNS = [
  "id",
  "session_id",
  "seq",
  "stream_seq",
  "event_type",
  "source",
  "level",
  "message",
  "tool_name",
  "tool_use_id",
  "parent_event_id",
  "parent_uuid",
  "is_sidechain",
  "agent_id",
  "cwd",
  "machine_id",
  "payload",
  "redactions",
  "replaced_characters",
  "occurred_at",
  "received_at",
] as const;

export interface EventRow {
  id: string;
  session_id: string;
  seq: number;
  stream_seq: number;
  event_type: string;
  source: string;
  level: string;
  message: string | null;
  tool_name: string | null;
  tool_use_id: string | null;
  parent_event_id: string | null;
  parent_uuid: string | null;
  is_sidechain: boolean;
  agent_id: string | null;
  cwd: string | null;
  machine_id: string | null;
  payload: Record<string, unknown>;
  redactions: number;
  replaced_characters: number;
  occurred_at: Date;
  received_at: Date;
}

/** The columns of an event summary: an event's without the payload. */
export const EVENT_SUMMARY_COLUMNS = EVENT_COLUMNS.filter((column) => column !== "payload");

export function toEventSummaryDto(row: Omit<EventRow, "payload">): EventSummary {
  return {
    id: row.id,
    sessionId: row.session_id,
    seq: row.seq,
    eventType: row.event_type,
    source: row.source as EventSource,
    level: row.level as EventLevel,
    message: row.message,
    toolName: row.tool_name,
    toolUseId: row.tool_use_id,
    parentEventId: row.parent_event_id,
    parentUuid: row.parent_uuid,
    isSidechain: row.is_sidechain,
    agentId: row.agent_id,
    cwd: row.cwd,
    machineId: row.machine_id,
    redactions: row.redactions,
    replacedCharacters: row.replaced_characters,
    occurredAt: iso(row.occurred_at),
    receivedAt: iso(row.received_at),
  };
}

export function toEventDto(row: EventRow): Event {
  return withPayload(toEventSummaryDto(row), row.payload ?? {});
}

/**
 * The event with its payload, its keys in the contract's order (`event`): the API's output
 * check passes such an object on as it is, one in another order goes through Zod's parse,
 * which builds a new one (packages/api, output-check.ts).
 */
function withPayload(summary: EventSummary, payload: Event["payload"]): Event {
  return {
    id: summary.id,
    sessionId: summary.sessionId,
    seq: summary.seq,
    eventType: summary.eventType,
    source: summary.source,
    level: summary.level,
    message: summary.message,
    toolName: summary.toolName,
    toolUseId: summary.toolUseId,
    parentEventId: summary.parentEventId,
    parentUuid: summary.parentUuid,
    isSidechain: summary.isSidechain,
    agentId: summary.agentId,
    cwd: summary.cwd,
    machineId: summary.machineId,
    payload,
    redactions: summary.redactions,
    replacedCharacters: summary.replacedCharacters,
    occurredAt: summary.occurredAt,
    receivedAt: summary.receivedAt,
  };
}

/** A row whose payload was selected as text (`payload::text`). */
export type EventTextRow = Omit<EventRow, "payload"> & { payload: string | null };

/**
 * An event whose payload stays jsonb's text until the server writes it (`stringifyJson`).
 * Why a cast: the contract's type is the parsed object, which is what every writer of this
 * value produces (`StoredJsonText.toJSON`), and `storedJsonObject` accepts it.
 */
export function toEventDtoWithText(row: EventTextRow): Event {
  const payload = row.payload === null ? {} : (new StoredJsonText(row.payload) as unknown as Record<string, unknown>);
  return withPayload(toEventSummaryDto(row), payload);
}
