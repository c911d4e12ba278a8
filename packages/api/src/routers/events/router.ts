import {
  eventCountsInput,
  eventCountsOutput,
  event,
  eventPage,
  eventStreamInput,
  eventIdInput,
  eventSummaryPage,
  ingestEventsInput,
  ingestResult,
  listRecentEventsInput,
  listSessionEventsInput,
  searchEventsInput,
  searchHitPage,
  type Event,
} from "@logbook/contracts";
import { tracked } from "@trpc/server";

import { createTRPCRouter, ingestProcedure, keyBoundStream, readProcedure } from "../../trpc.js";
import { orNothing } from "../../input.js";
import { checkedOutput } from "../../output-check.js";

export const eventsRouter = createTRPCRouter({
  /** Idempotent: events carry client-made ids, a retried batch is stored once. */
  ingest: ingestProcedure
    .input(ingestEventsInput)
    .output(ingestResult)
    .mutation(({ ctx, input }) => ctx.services.events.ingest(input)),

  listForSession: readProcedure
    .input(listSessionEventsInput)
    .output(checkedOutput(eventPage))
    .query(({ ctx, input }) => ctx.services.events.listForSession(input, { payloadText: ctx.writesJsonText === true })),

  /** The timeline without payloads: far smaller pages; `get` fetches one whole event. */
  listSummariesForSession: readProcedure
    .input(listSessionEventsInput)
    .output(checkedOutput(eventSummaryPage))
    .query(({ ctx, input }) => ctx.services.events.listSummariesForSession(input)),

  get: readProcedure
    .input(eventIdInput)
    .output(checkedOutput(event))
    .query(({ ctx, input }) => ctx.services.events.get(input)),

  listRecent: readProcedure
    .input(orNothing(listRecentEventsInput))
    .output(checkedOutput(eventPage))
    .query(({ ctx, input }) => ctx.services.events.listRecent(input)),

  /** Full-text search over every stored event (prompts, replies, tool calls and results, summaries). */
  search: readProcedure
    .input(searchEventsInput)
    .output(searchHitPage)
    .query(({ ctx, input }) => ctx.services.search.events(input)),

  countsByType: readProcedure
    .input(eventCountsInput)
    .output(eventCountsOutput)
    .query(({ ctx, input }) => ctx.services.events.countsByType(input)),

  /**
   * New events (all, one session's, or one project's), live. Each carries a resume id
   * (`tracked`): after a reconnect, tRPC sends the last one back as `lastEventId` and the
   * stream continues right after it, replaying what was missed. No `.output()` on a
   * subscription (see sessions.onChange).
   */
  onEvent: readProcedure.input(orNothing(eventStreamInput)).subscription(async function* ({ ctx, input, signal }) {
    const stream = keyBoundStream(ctx, signal);
    try {
      for await (const live of ctx.bus.events(input, stream.signal)) {
        if (stream.signal.aborted) break; // what was queued before a revocation is not sent
        yield tracked(live.id, live.event satisfies Event);
      }
      stream.throwIfCut();
    } finally {
      stream.release();
    }
  }),
});
