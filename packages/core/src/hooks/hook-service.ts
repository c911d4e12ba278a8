import {
  claudeCodeHookPayload,
  isClaudeCodeHookPayload,
  subagentExternalId,
  type ClaudeCodeHookPayload,
  type EventLevel,
  type IngestHooksResult,
  type ParsedIngestEvent,
} from "@logbook/contracts";

import { GroupCommit } from "../batching/group-commit.js";
import type { CoreDeps } from "../deps.js";
import { AppError, invalidInputFrom, toAppError } from "../errors.js";
import { EventService } from "../events/event-service.js";
import { ingestResultOf } from "../events/ingest-pipeline.js";
import { known } from "../invariants.js";

export interface HookMeta {
  id?: string | undefined;
  occurredAt?: string | undefined;
  machineId?: string | undefined;
}

const FAILURE_EVENTS = new Set(["PostToolUseFailure", "StopFailure", "PermissionDenied"]);

const str = (value: unknown): string | undefined => (typeof value === "string" && value.length > 0 ? value : undefined);
const clip = (value: string, max: number) => (value.length > max ? value.slice(0, max) : value);

/**
 * Turns a raw Claude Code hook payload into an event. Events that carry an `agent_id`
 * (a subagent's) belong to a child session of the main session; everything else to
 * the session named by `session_id`. The payload is stored whole, unknown fields too.
 */
export function hookToEvent(payload: ClaudeCodeHookPayload, meta: HookMeta): ParsedIngestEvent {
  const agentId = str(payload.agent_id);
  const level: EventLevel = FAILURE_EVENTS.has(payload.hook_event_name) ? "warning" : "info";
  const prompt = payload.hook_event_name === "UserPromptSubmit" ? str(payload.prompt) : undefined;
  const message =
    str(payload.message) ??
    (prompt ? clip(prompt, 10_000) : undefined) ??
    (typeof payload.error === "string" ? clip(payload.error, 10_000) : undefined);
  // Set field by field rather than spread from a dozen conditional objects: this runs for
  // every event of every batch, and those objects were a sixth of a hook batch's garbage.
  const event: ParsedIngestEvent = {
    externalSessionId: agentId ? subagentExternalId(payload.session_id, agentId) : payload.session_id,
    eventType: payload.hook_event_name,
    source: "hook",
    level,
    payload,
  };
  if (meta.id) event.id = meta.id;
  if (meta.occurredAt) event.occurredAt = meta.occurredAt;
  if (agentId) {
    event.parentExternalSessionId = payload.session_id;
    event.agentId = agentId;
  }
  const agentType = str(payload.agent_type);
  if (agentType) event.agentType = clip(agentType, 255);
  if (message) event.message = message;
  const toolName = str(payload.tool_name);
  if (toolName) event.toolName = clip(toolName, 255);
  const toolUseId = str(payload.tool_use_id);
  if (toolUseId) event.toolUseId = clip(toolUseId, 255);
  const cwd = str(payload.cwd);
  if (cwd) event.cwd = clip(cwd, 4096);
  if (meta.machineId) event.machineId = clip(meta.machineId, 255);
  return event;
}

/** Parses a payload or says, field by field, why it is not a Claude Code hook payload. */
export function parseHookPayload(raw: unknown): ClaudeCodeHookPayload {
  // The same answer as the schema without its copy of the payload; the schema only for why not.
  if (isClaudeCodeHookPayload(raw)) return raw;
  const parsed = claudeCodeHookPayload.safeParse(raw);
  if (!parsed.success) throw invalidInputFrom(parsed.error, "Claude Code hook payload");
  // Keep the payload object itself (with every unknown field), not Zod's copy.
  return raw as ClaudeCodeHookPayload;
}

/** Claude Code hook ingest: single payloads (the `http` hook) and emitter batches. */
export class HookService {
  private readonly events: EventService;
  /** Single posts (Claude Code's `http` hook, the emitter) are committed in groups under load. */
  private readonly singles: GroupCommit<ParsedIngestEvent, { accepted: boolean; id: string; replaced: number }>;

  constructor(deps: CoreDeps, events?: EventService) {
    this.events = events ?? new EventService(deps);
    this.singles = new GroupCommit({
      // Two groups at a time, not more: every ingest commit sends a NOTIFY, and PostgreSQL
      // commits notifying transactions one at a time (its notify-queue lock is held through
      // the WAL flush), so more groups in flight only make each smaller. With two, one
      // commits while the next fills. Measured quiet against 1, 4 and 8 (docs/performance.md,
      // "Group commit: groups in flight").
      maxInFlight: 2,
      // A group that failed because the database is busy or down is not split: each post
      // alone would fail the same way, and a session's posts go one at a time, so a group
      // of N would answer its last post only after N timeouts (seen as posts left waiting
      // past 20 s by the reliability suite's db-limits check).
      retryAlone: (error) => toAppError(error)?.code !== "UNAVAILABLE",
      commit: async (batch) => {
        const { accepted, ids, replaced } = await this.events.ingestDetailed(
          { events: batch },
          { fieldsFromPayload: true },
        );
        return ids.map((id, i) => ({
          accepted: known(accepted[i], "whether an event was accepted"),
          id,
          replaced: replaced[i] ?? 0,
        }));
      },
    });
  }

  /**
   * One payload. Parsed before it joins a group, so a malformed one is refused alone; if a
   * group fails in the database, each of its events is retried on its own.
   */
  async ingestPayload(raw: unknown, meta: HookMeta = {}): Promise<IngestHooksResult> {
    const { accepted, id, replaced } = await this.singles.submit(hookToEvent(parseHookPayload(raw), meta));
    return ingestResultOf([accepted], [id], [replaced]);
  }

  /** A batch is all or nothing: one bad payload rejects the call, naming its index. */
  async ingest(input: {
    events: Array<{
      id?: string | undefined;
      occurredAt?: string | undefined;
      machineId?: string | undefined;
      payload: unknown;
    }>;
  }): Promise<IngestHooksResult> {
    const events = input.events.map((envelope, index) => {
      try {
        return hookToEvent(parseHookPayload(envelope.payload), envelope);
      } catch (error) {
        if (error instanceof AppError) {
          // Each field's issue too, with its place in the call (`events.1.payload.session_id`),
          // as for a bad envelope field.
          const issues = error.issues?.map((issue) => ({
            ...issue,
            path: `events.${index}.payload${issue.path === "" ? "" : `.${issue.path}`}`,
          }));
          throw new AppError("INVALID_INPUT", `events[${index}].payload: ${error.message}`, {
            details: { index, ...error.details },
            ...(issues ? { issues } : {}),
          });
        }
        throw error;
      }
    });
    return this.events.ingest({ events }, { fieldsFromPayload: true });
  }
}
