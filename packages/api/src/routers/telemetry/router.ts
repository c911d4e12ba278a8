import { listMetricPointsInput, metricPointList, telemetryUsage, telemetryUsageInput } from "@logbook/contracts";

import { orNothing } from "../../input.js";
import { createTRPCRouter, readProcedure } from "../../trpc.js";

/** What arrived over OTLP (`/v1/*` on the server): metric time series and the OTel side of usage. */
export const telemetryRouter = createTRPCRouter({
  /** Metric points by session, user, model, name and time, oldest first. */
  metrics: readProcedure
    .input(orNothing(listMetricPointsInput))
    .output(metricPointList)
    .query(({ ctx, input }) => ctx.services.otel.listMetricPoints(input)),

  /** A session's api_request events: all of them, those its transcript lacks, and the session total without double counting. */
  usage: readProcedure
    .input(telemetryUsageInput)
    .output(telemetryUsage)
    .query(({ ctx, input }) => ctx.services.otel.sessionUsage(input.sessionId)),
});
