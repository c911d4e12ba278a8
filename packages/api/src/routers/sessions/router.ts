import {
  archiveSessionInput,
  createSessionInput,
  deleteSessionResult,
  exportSessionInput,
  getSessionInput,
  idInput,
  listSessionsInput,
  needsYouInput,
  needsYouOutput,
  session,
  sessionExport,
  sessionPage,
  sessionStreamInput,
  sessionTree,
  sessionTreeInput,
  transitionSessionInput,
  updateSessionInput,
  type Session,
} from "@logbook/contracts";

import { adminProcedure, createTRPCRouter, ingestProcedure, keyBoundStream, readProcedure } from "../../trpc.js";
import { orNothing } from "../../input.js";
import { checkedOutput } from "../../output-check.js";

export const sessionsRouter = createTRPCRouter({
  create: ingestProcedure
    .input(orNothing(createSessionInput))
    .output(session)
    .mutation(({ ctx, input }) => ctx.services.sessions.create(input)),

  get: readProcedure
    .input(getSessionInput)
    .output(checkedOutput(session))
    .query(({ ctx, input }) => ctx.services.sessions.get(input)),

  /**
   * The session with its subagents as a file's content (md, json, or the original jsonl
   * lines). A query, so the dashboard fetches it with its cookie and saves it as a download:
   * the key never goes in a URL.
   */
  export: readProcedure
    .input(exportSessionInput)
    .output(sessionExport)
    .query(({ ctx, input }) => ctx.services.exports.session(input)),

  list: readProcedure
    .input(orNothing(listSessionsInput))
    .output(checkedOutput(sessionPage))
    .query(({ ctx, input }) => ctx.services.sessions.list(input)),

  update: ingestProcedure
    .input(updateSessionInput)
    .output(session)
    .mutation(({ ctx, input }) => ctx.services.sessions.update(input)),

  transition: ingestProcedure
    .input(transitionSessionInput)
    .output(session)
    .mutation(({ ctx, input }) => ctx.services.sessions.transition(input)),

  /** Sessions waiting for the person (permission, idle prompt, question), longest first. */
  needsYou: readProcedure
    .input(orNothing(needsYouInput))
    .output(needsYouOutput)
    .query(({ ctx, input }) => ctx.services.sessions.needsYou(input)),

  tree: readProcedure
    .input(sessionTreeInput)
    .output(sessionTree)
    .query(({ ctx, input }) => ctx.services.sessions.tree(input)),

  setArchived: ingestProcedure
    .input(archiveSessionInput)
    .output(session)
    .mutation(({ ctx, input }) => ctx.services.sessions.setArchived(input)),

  delete: adminProcedure
    .input(idInput)
    .output(deleteSessionResult)
    .mutation(({ ctx, input }) => ctx.services.sessions.delete(input)),

  /**
   * Every change to matching sessions (status, activity, tokens…), as the whole session.
   * A subscription has no `.output()`: tRPC would validate the stream object itself;
   * the items are typed by the generator and built by the same DTO code as `get`.
   */
  onChange: readProcedure.input(orNothing(sessionStreamInput)).subscription(async function* ({ ctx, input, signal }) {
    const stream = keyBoundStream(ctx, signal);
    try {
      for await (const changed of ctx.bus.sessions(input, stream.signal)) {
        if (stream.signal.aborted) break; // what was queued before a revocation is not sent
        yield changed satisfies Session;
      }
      stream.throwIfCut();
    } finally {
      stream.release();
    }
  }),
});
