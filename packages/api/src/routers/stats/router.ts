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
import { orNothing } from "../../input.js";

export const statsRouter = createTRPCRouter({
  activeSessions: readProcedure
    .input(orNothing(activeSessionsInput))
    .output(activeSessionsOutput)
    .query(({ ctx, input }) => ctx.services.stats.activeSessions(input)),

  eventCounts: readProcedure
    .input(orNothing(timeRangeInput))
    .output(eventCountsOutput)
    .query(({ ctx, input }) => ctx.services.stats.eventCounts(input)),

  toolUsage: readProcedure
    .input(orNothing(timeRangeInput))
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
