import { health } from "@logbook/contracts";
import { z } from "zod";

import { createTRPCRouter, publicProcedure } from "../../trpc.js";

export const healthRouter = createTRPCRouter({
  /** Open: database reachable, migrations current. Same answer as `GET /health`. */
  check: publicProcedure
    .input(z.void())
    .output(health)
    .query(({ ctx }) => ctx.health()),
});
