import {
  deleteFileResult,
  filePage,
  getFileInput,
  listFilesInput,
  trackedFile,
  upsertFileInput,
} from "@logbook/contracts";

import { createTRPCRouter, ingestProcedure, readProcedure } from "../../trpc.js";

export const filesRouter = createTRPCRouter({
  /** Idempotent: one file per session and path; sending it again replaces it. */
  upsert: ingestProcedure
    .input(upsertFileInput)
    .output(trackedFile)
    .mutation(({ ctx, input }) => ctx.services.files.upsert(input)),

  /** With its content. */
  get: readProcedure
    .input(getFileInput)
    .output(trackedFile)
    .query(({ ctx, input }) => ctx.services.files.get(input)),

  /** Stops tracking a file (its content goes with it). */
  delete: ingestProcedure
    .input(getFileInput)
    .output(deleteFileResult)
    .mutation(({ ctx, input }) => ctx.services.files.delete(input)),

  /** Without content. */
  list: readProcedure
    .input(listFilesInput)
    .output(filePage)
    .query(({ ctx, input }) => ctx.services.files.list(input)),
});
