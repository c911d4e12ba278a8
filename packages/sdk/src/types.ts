import type { AppRouter } from "@logbook/api";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";

/** Every procedure's input type, e.g. `RouterInputs["sessions"]["list"]`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** Every procedure's output type, e.g. `RouterOutputs["sessions"]["get"]`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export type {
  ApiKey,
  Artifact,
  ClaudeCodeHookPayload,
  Event,
  EventLevel,
  EventSource as EventSourceKind,
  HookEnvelope,
  IngestEvent,
  IngestResult,
  Job,
  Project,
  ProjectLock,
  Session,
  SessionMessage,
  SessionStatus,
  SessionTree,
  Step,
  TrackedFile,
  WebhookDelivery,
  WebhookEvent,
  WebhookPayload,
  WebhookSubscription,
} from "@logbook/contracts";
