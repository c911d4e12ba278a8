import { retentionReport, retentionRunInput } from "@logbook/contracts";

import { adminProcedure, createTRPCRouter } from "../../trpc.js";
import { orNothing } from "../../input.js";

export const retentionRouter = createTRPCRouter({
  /**
   * Purges (or archives) by the server's policy, overridable per call. A dry run by
   * default: it counts what would go. One replica at a time (`ran: false` otherwise).
   */
  run: adminProcedure
    .input(orNothing(retentionRunInput))
    .output(retentionReport)
    .mutation(({ ctx, input }) => ctx.services.retention.run(input)),
});
