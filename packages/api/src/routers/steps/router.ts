import { completeStepInput, createStepInput, failStepInput, idInput, listStepsInput, step } from "@logbook/contracts";
import { z } from "zod";

import { createTRPCRouter, ingestProcedure, readProcedure } from "../../trpc.js";

export const stepsRouter = createTRPCRouter({
  create: ingestProcedure
    .input(createStepInput)
    .output(step)
    .mutation(({ ctx, input }) => ctx.services.steps.create(input)),

  /** pending → running. */
  start: ingestProcedure
    .input(idInput)
    .output(step)
    .mutation(({ ctx, input }) => ctx.services.steps.start(input)),

  complete: ingestProcedure
    .input(completeStepInput)
    .output(step)
    .mutation(({ ctx, input }) => ctx.services.steps.complete(input)),

  fail: ingestProcedure
    .input(failStepInput)
    .output(step)
    .mutation(({ ctx, input }) => ctx.services.steps.fail(input)),

  skip: ingestProcedure
    .input(idInput)
    .output(step)
    .mutation(({ ctx, input }) => ctx.services.steps.skip(input)),

  cancel: ingestProcedure
    .input(idInput)
    .output(step)
    .mutation(({ ctx, input }) => ctx.services.steps.cancel(input)),

  /** A session's steps in sequence order. */
  list: readProcedure
    .input(listStepsInput)
    .output(z.array(step))
    .query(({ ctx, input }) => ctx.services.steps.list(input)),
});
