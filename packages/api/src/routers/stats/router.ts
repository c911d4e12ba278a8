import {
  activeSessionsInput,
  activeSessionsOutput,
  eventCountsOutput,
  overviewOutput,
  timeRangeInput,
  tokenTotalsInput,
  tokenTotalsOutput,
  toolUsageOutput,
} from "@logbook/contracts";
import { z } from "zod";

import { createTRPCRouter, readProcedure } from "../../trpc.js";

export const statsRouter = createTRPCRouter({
  activeSessions: readProcedure
    .input(activeSessionsInput)
    .output(activeSessionsOutput)
    .query(({ ctx, input }) => ctx.services.stats.activeSessions(input)),

  eventCounts: readProcedure
    .input(timeRangeInput)
    .output(eventCountsOutput)
    .query(({ ctx, input }) => ctx.services.stats.eventCounts(input)),

  toolUsage: readProcedure
    .input(timeRangeInput)
    .output(toolUsageOutput)
    .query(({ ctx, input }) => ctx.services.stats.toolUsage(input)),

  tokenTotals: readProcedure
    .input(tokenTotalsInput)
    .output(tokenTotalsOutput)
    .query(({ ctx, input }) => ctx.services.stats.tokenTotals(input)),

  overview: readProcedure
    .input(z.void())
    .output(overviewOutput)
    .query(({ ctx }) => ctx.services.stats.overview()),
});
