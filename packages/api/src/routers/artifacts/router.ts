import { artifact, artifactPage, createArtifactInput, listArtifactsInput } from "@logbook/contracts";

import { createTRPCRouter, ingestProcedure, readProcedure } from "../../trpc.js";

export const artifactsRouter = createTRPCRouter({
  create: ingestProcedure
    .input(createArtifactInput)
    .output(artifact)
    .mutation(({ ctx, input }) => ctx.services.artifacts.create(input)),

  list: readProcedure
    .input(listArtifactsInput)
    .output(artifactPage)
    .query(({ ctx, input }) => ctx.services.artifacts.list(input)),
});
