import { appendMessageInput, listMessagesInput, messagePage, sessionMessage } from "@logbook/contracts";

import { createTRPCRouter, ingestProcedure, readProcedure } from "../../trpc.js";

export const messagesRouter = createTRPCRouter({
  append: ingestProcedure
    .input(appendMessageInput)
    .output(sessionMessage)
    .mutation(({ ctx, input }) => ctx.services.messages.append(input)),

  list: readProcedure
    .input(listMessagesInput)
    .output(messagePage)
    .query(({ ctx, input }) => ctx.services.messages.list(input)),
});
