import {
  claimJobsInput,
  completeJobInput,
  enqueueJobInput,
  extendJobLeaseInput,
  failJobInput,
  idInput,
  job,
  jobPage,
  listJobsInput,
  recoverLeasesResult,
} from "@logbook/contracts";
import { z } from "zod";

import { adminProcedure, createTRPCRouter, ingestProcedure, readProcedure } from "../../trpc.js";
import { orNothing } from "../../input.js";

export const jobsRouter = createTRPCRouter({
  enqueue: ingestProcedure
    .input(enqueueJobInput)
    .output(job)
    .mutation(({ ctx, input }) => ctx.services.jobs.enqueue(input)),

  /** Worker calls: claim a batch under a lease, then complete, fail or extend it. */
  claim: ingestProcedure
    .input(claimJobsInput)
    .output(z.array(job))
    .mutation(({ ctx, input }) => ctx.services.jobs.claim(input)),

  complete: ingestProcedure
    .input(completeJobInput)
    .output(job)
    .mutation(({ ctx, input }) => ctx.services.jobs.complete(input)),

  fail: ingestProcedure
    .input(failJobInput)
    .output(job)
    .mutation(({ ctx, input }) => ctx.services.jobs.fail(input)),

  extendLease: ingestProcedure
    .input(extendJobLeaseInput)
    .output(job)
    .mutation(({ ctx, input }) => ctx.services.jobs.extendLease(input)),

  get: readProcedure
    .input(idInput)
    .output(job)
    .query(({ ctx, input }) => ctx.services.jobs.get(input)),

  list: readProcedure
    .input(orNothing(listJobsInput))
    .output(jobPage)
    .query(({ ctx, input }) => ctx.services.jobs.list(input)),

  cancel: adminProcedure
    .input(idInput)
    .output(job)
    .mutation(({ ctx, input }) => ctx.services.jobs.cancel(input)),

  /** The server runs this on a schedule too; exposed for operators. */
  recoverExpiredLeases: adminProcedure
    .input(z.void())
    .output(recoverLeasesResult)
    .mutation(({ ctx }) => ctx.services.jobs.recoverExpiredLeases()),
});
