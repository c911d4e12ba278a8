import {
  sessionStoreAppendInput,
  sessionStoreAppendOutput,
  sessionStoreKeyInput,
  sessionStoreListOutput,
  sessionStoreLoadOutput,
  sessionStoreProjectInput,
  sessionStoreSessionInput,
  sessionStoreSubkeysOutput,
} from "@logbook/contracts";
import { z } from "zod";

import { adminProcedure, createTRPCRouter, ingestProcedure, readProcedure } from "../../trpc.js";

/** The Claude Agent SDK's SessionStore (the SDK's `LogbookSessionStore` calls these). */
export const sessionStoreRouter = createTRPCRouter({
  /** Entries of one key, in order; an entry's `uuid` makes a retry a no-op. */
  append: ingestProcedure
    .input(sessionStoreAppendInput)
    .output(sessionStoreAppendOutput)
    .mutation(({ ctx, input }) => ctx.services.sessionStore.append(input)),

  /** The entries of a key in append order; null when it was never written. */
  load: readProcedure
    .input(sessionStoreKeyInput)
    .output(sessionStoreLoadOutput)
    .query(({ ctx, input }) => ctx.services.sessionStore.load(input)),

  /** A project's main transcripts with their last write time. */
  list: readProcedure
    .input(sessionStoreProjectInput)
    .output(sessionStoreListOutput)
    .query(({ ctx, input }) => ctx.services.sessionStore.list(input.projectKey)),

  /** A session's subagent keys. */
  listSubkeys: readProcedure
    .input(sessionStoreSessionInput)
    .output(sessionStoreSubkeysOutput)
    .query(({ ctx, input }) => ctx.services.sessionStore.listSubkeys(input)),

  /** Deletes a key and the Logbook session holding it (admin, like `sessions.delete`). */
  delete: adminProcedure
    .input(sessionStoreKeyInput)
    .output(z.void())
    .mutation(({ ctx, input }) => ctx.services.sessionStore.delete(input)),
});
