import { apiKey, createApiKeyInput, createdApiKey, revokeApiKeyInput } from "@logbook/contracts";
import { z } from "zod";

import { adminProcedure, createTRPCRouter } from "../../trpc.js";

export const apiKeysRouter = createTRPCRouter({
  /** The answer holds the secret: the only time it is ever shown. */
  create: adminProcedure
    .input(createApiKeyInput)
    .output(createdApiKey)
    .mutation(({ ctx, input }) => ctx.services.apiKeys.create(input)),

  /** Every key, never with its secret or hash. */
  list: adminProcedure
    .input(z.void())
    .output(z.array(apiKey))
    .query(({ ctx }) => ctx.services.apiKeys.list()),

  /** Idempotent: revoking a revoked key changes nothing. */
  revoke: adminProcedure
    .input(revokeApiKeyInput)
    .output(apiKey)
    .mutation(({ ctx, input }) => ctx.services.apiKeys.revoke(input)),
});
