import { loginLink, whoamiOutput } from "@logbook/contracts";
import { z } from "zod";

import { authedProcedure, createTRPCRouter } from "../../trpc.js";

/** Where the server redeems login links (apps/server). */
export const LOGIN_LINK_PATH = "/auth/link";

export const authRouter = createTRPCRouter({
  /** Who the key belongs to and what it may do: any valid key may ask. */
  whoami: authedProcedure
    .input(z.void())
    .output(whoamiOutput)
    .query(({ ctx }) => ctx.auth),

  /**
   * A single-use dashboard sign-in link for the caller's key, valid two minutes: opening it
   * signs the browser in with this key's scopes (`logbook open`, the sign-in form).
   */
  createLoginLink: authedProcedure
    .input(z.void())
    .output(loginLink)
    .mutation(async ({ ctx }) => {
      const link = await ctx.services.webSessions.createLoginLink(ctx.auth.keyId);
      const path = `${LOGIN_LINK_PATH}?token=${encodeURIComponent(link.token)}`;
      return { url: `${ctx.publicUrl ?? ""}${path}`, path, expiresAt: link.expiresAt };
    }),
});
