import { whoamiOutput } from "@logbook/contracts";
import { z } from "zod";

import { authedProcedure, createTRPCRouter } from "../../trpc.js";

export const authRouter = createTRPCRouter({
  /** Who the key belongs to and what it may do: any valid key may ask. */
  whoami: authedProcedure
    .input(z.void())
    .output(whoamiOutput)
    .query(({ ctx }) => ctx.auth),
});
