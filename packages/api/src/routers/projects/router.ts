import {
  acquireLockInput,
  getProjectInput,
  inspectLockInput,
  listProjectsInput,
  project,
  projectLock,
  projectPage,
  releaseLockInput,
  releaseLockResult,
  renewLockInput,
  upsertProjectInput,
} from "@logbook/contracts";

import { createTRPCRouter, ingestProcedure, readProcedure } from "../../trpc.js";
import { orNothing } from "../../input.js";

/** One lock per project: who holds it, until when. Taken by agents and workers (ingest scope). */
const locksRouter = createTRPCRouter({
  /** Fails with CONFLICT (`appCode: LOCK_HELD`, holder in `details`) while someone else holds it. */
  acquire: ingestProcedure
    .input(acquireLockInput)
    .output(projectLock)
    .mutation(({ ctx, input }) => ctx.services.locks.acquire(input)),

  renew: ingestProcedure
    .input(renewLockInput)
    .output(projectLock)
    .mutation(({ ctx, input }) => ctx.services.locks.renew(input)),

  release: ingestProcedure
    .input(releaseLockInput)
    .output(releaseLockResult)
    .mutation(({ ctx, input }) => ctx.services.locks.release(input)),

  /** The current, unexpired lock, or null. */
  inspect: readProcedure
    .input(inspectLockInput)
    .output(projectLock.nullable())
    .query(({ ctx, input }) => ctx.services.locks.inspect(input)),
});

export const projectsRouter = createTRPCRouter({
  upsert: ingestProcedure
    .input(upsertProjectInput)
    .output(project)
    .mutation(({ ctx, input }) => ctx.services.projects.upsert(input)),

  get: readProcedure
    .input(getProjectInput)
    .output(project)
    .query(({ ctx, input }) => ctx.services.projects.get(input)),

  list: readProcedure
    .input(orNothing(listProjectsInput))
    .output(projectPage)
    .query(({ ctx, input }) => ctx.services.projects.list(input)),

  locks: locksRouter,
});
