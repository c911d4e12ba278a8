import type { RetentionPolicy } from "@logbook/contracts";
import { retentionPolicy } from "@logbook/contracts";

import { ApiKeyService } from "./api-keys/api-key-service.js";
import { AuthFailureService } from "./auth-failures/auth-failure-service.js";
import { withPrices, type CoreDeps } from "./deps.js";
import { EventService } from "./events/event-service.js";
import { HookService } from "./hooks/hook-service.js";
import { JobService } from "./jobs/job-service.js";
import { OtelService } from "./otel/otel-service.js";
import { SessionStoreService } from "./session-store/session-store-service.js";
import { LockService } from "./projects/lock-service.js";
import { ProjectService } from "./projects/project-service.js";
import { ArtifactService } from "./records/artifact-service.js";
import { FileService } from "./records/file-service.js";
import { MessageService } from "./records/message-service.js";
import { StepService } from "./records/step-service.js";
import { PartitionService, type RetiredPartitionMode } from "./partitions/partition-service.js";
import { RetentionService } from "./retention/retention-service.js";
import { SearchService } from "./search/search-service.js";
import { ExportService } from "./sessions/export-service.js";
import { SessionService } from "./sessions/session-service.js";
import { StatsService } from "./stats/stats-service.js";
import { UsageService } from "./usage/usage-service.js";
import { WebSessionService } from "./web-sessions/web-session-service.js";
import { WebhookService, type WebhookOptions } from "./webhooks/webhook-service.js";

export interface Services {
  sessions: SessionService;
  events: EventService;
  search: SearchService;
  exports: ExportService;
  hooks: HookService;
  otel: OtelService;
  sessionStore: SessionStoreService;
  messages: MessageService;
  files: FileService;
  steps: StepService;
  artifacts: ArtifactService;
  projects: ProjectService;
  locks: LockService;
  jobs: JobService;
  stats: StatsService;
  usage: UsageService;
  retention: RetentionService;
  partitions: PartitionService;
  apiKeys: ApiKeyService;
  authFailures: AuthFailureService;
  webSessions: WebSessionService;
  webhooks: WebhookService;
}

/** Every service on one Knex (pool) and one price book. The API builds this once per process. */
export function createServices(
  given: CoreDeps & {
    retentionPolicy?: RetentionPolicy;
    apiKeyCacheMs?: number;
    /** What retention does with whole events partitions past the age limit. @default "drop" */
    retiredPartitions?: RetiredPartitionMode;
    /** Delivery settings of outbound webhooks (private receivers, retries, timeouts). */
    webhooks?: WebhookOptions;
  },
): Services {
  const deps = withPrices(given);
  const events = new EventService(deps);
  const jobs = new JobService(deps);
  return {
    sessions: new SessionService(deps),
    events,
    search: new SearchService(deps),
    exports: new ExportService(deps),
    hooks: new HookService(deps, events),
    otel: new OtelService(deps, events),
    sessionStore: new SessionStoreService(deps, events),
    messages: new MessageService(deps),
    files: new FileService(deps),
    steps: new StepService(deps),
    artifacts: new ArtifactService(deps),
    projects: new ProjectService(deps),
    locks: new LockService(deps),
    jobs,
    stats: new StatsService(deps),
    usage: new UsageService(deps),
    retention: new RetentionService(deps, deps.retentionPolicy ?? retentionPolicy.parse({}), deps.retiredPartitions),
    partitions: new PartitionService(deps),
    apiKeys: new ApiKeyService(deps, deps.apiKeyCacheMs === undefined ? {} : { verifyCacheMs: deps.apiKeyCacheMs }),
    authFailures: new AuthFailureService(deps),
    webSessions: new WebSessionService(deps),
    webhooks: new WebhookService(deps, jobs, deps.webhooks),
  };
}
