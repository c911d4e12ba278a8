import { ingestHooksInput, ingestHooksResult } from "@logbook/contracts";

import { createTRPCRouter, ingestProcedure } from "../../trpc.js";

export const hooksRouter = createTRPCRouter({
  /** Claude Code hook payloads in envelopes (the emitter's batches). All or nothing. */
  ingest: ingestProcedure
    .input(ingestHooksInput)
    .output(ingestHooksResult)
    .mutation(({ ctx, input }) => ctx.services.hooks.ingest(input)),
});
