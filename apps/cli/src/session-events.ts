import type { LogbookClient } from "@logbook/sdk";

import type { Event } from "./types.js";

/** The API's largest page. */
const PAGE = 500;

/** Every event of a session, page by page, in the order they were stored. */
export async function allSessionEvents(
  client: LogbookClient,
  sessionId: string,
  progress: (loaded: number) => void = () => undefined,
): Promise<Event[]> {
  const events: Event[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.events.listForSession.query({ sessionId, limit: PAGE, ...(cursor ? { cursor } : {}) });
    events.push(...page.items);
    progress(events.length);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return events;
}

/** The id of a session's last event (pages without payloads), or null when it has none. */
export async function lastSessionEventId(client: LogbookClient, sessionId: string): Promise<string | null> {
  let last: string | null = null;
  let cursor: string | undefined;
  do {
    const page = await client.events.listSummariesForSession.query({
      sessionId,
      limit: PAGE,
      ...(cursor ? { cursor } : {}),
    });
    last = page.items.at(-1)?.id ?? last;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return last;
}
