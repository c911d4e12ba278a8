import { priceTableOutput, repriceResult, usageReport, usageReportInput } from "@logbook/contracts";
import { z } from "zod";

import { adminProcedure, createTRPCRouter, readProcedure } from "../../trpc.js";

export const usageRouter = createTRPCRouter({
  /** Tokens and cost by day, week, month (in a time zone), session, project, model or machine. */
  report: readProcedure
    .input(usageReportInput)
    .output(usageReport)
    .query(({ ctx, input }) => ctx.services.usage.report(input)),

  /** The price table in force (built-in, or with the LOGBOOK_PRICES_FILE override laid over it). */
  prices: readProcedure
    .input(z.void())
    .output(priceTableOutput)
    .query(({ ctx }) => ctx.services.usage.priceTable()),

  /** Reads the price file again and prices every stored message with the table; 400 if the file is bad. */
  reprice: adminProcedure
    .input(z.void())
    .output(repriceResult)
    .mutation(({ ctx }) => ctx.services.usage.reprice()),
});
