import { apiKeysRouter } from "./routers/api-keys/router.js";
import { artifactsRouter } from "./routers/artifacts/router.js";
import { authRouter } from "./routers/auth/router.js";
import { eventsRouter } from "./routers/events/router.js";
import { filesRouter } from "./routers/files/router.js";
import { healthRouter } from "./routers/health/router.js";
import { hooksRouter } from "./routers/hooks/router.js";
import { jobsRouter } from "./routers/jobs/router.js";
import { messagesRouter } from "./routers/messages/router.js";
import { projectsRouter } from "./routers/projects/router.js";
import { retentionRouter } from "./routers/retention/router.js";
import { sessionStoreRouter } from "./routers/session-store/router.js";
import { sessionsRouter } from "./routers/sessions/router.js";
import { statsRouter } from "./routers/stats/router.js";
import { stepsRouter } from "./routers/steps/router.js";
import { telemetryRouter } from "./routers/telemetry/router.js";
import { usageRouter } from "./routers/usage/router.js";
import { webhooksRouter } from "./routers/webhooks/router.js";
import { createTRPCRouter } from "./trpc.js";

/** The whole API. Router keys are nouns, procedures verbs; packages/api/README.md lists them with their scopes. */
export const appRouter = createTRPCRouter({
  health: healthRouter,
  auth: authRouter,
  sessions: sessionsRouter,
  events: eventsRouter,
  hooks: hooksRouter,
  messages: messagesRouter,
  files: filesRouter,
  steps: stepsRouter,
  artifacts: artifactsRouter,
  projects: projectsRouter,
  jobs: jobsRouter,
  stats: statsRouter,
  usage: usageRouter,
  telemetry: telemetryRouter,
  sessionStore: sessionStoreRouter,
  retention: retentionRouter,
  apiKeys: apiKeysRouter,
  webhooks: webhooksRouter,
});

export type AppRouter = typeof appRouter;
