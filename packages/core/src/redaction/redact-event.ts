import type { ParsedIngestEvent } from "@logbook/contracts";

import type { Redactor } from "./redactor.js";

/**
 * An event with the secrets in its payload and message replaced, and how many were. The
 * ingest pipeline calls this once per event where parsed events come in, before any write,
 * so everything derived from the event (timeline text, messages, session title and first
 * prompt, metadata) is derived from the redacted values. An event without secrets comes
 * back as the same object.
 */
export function redactEvent(redactor: Redactor, event: ParsedIngestEvent): { event: ParsedIngestEvent; count: number } {
  if (!redactor.enabled) return { event, count: 0 };
  const payload = redactor.json(event.payload);
  const message = event.message === undefined ? undefined : redactor.text(event.message);
  const count = payload.count + (message?.count ?? 0);
  if (count === 0) return { event, count };
  return { event: { ...event, payload: payload.value, ...(message ? { message: message.text } : {}) }, count };
}
