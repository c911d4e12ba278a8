import { z } from "zod";

import {
  LIMITS,
  isJsonObject,
  isText,
  jsonObject,
  shortText,
  text,
  uuid,
  storedDateTime,
  inputObject,
} from "./common.js";
import { externalId } from "./sessions.js";

/**
 * A Claude Code hook payload as Claude Code sends it (stdin of a `command` hook, body of
 * an `http` hook). Only the fields every payload has are required; everything else,
 * known or not, is kept whole. Formats drift between versions: never reject the unknown.
 */
export const claudeCodeHookPayload = jsonObject().pipe(
  z.looseObject({
    // The same rule as every other external session id (no NUL: PostgreSQL cannot store
    // it), so a session a hook creates is one `sessions.get` can name.
    session_id: externalId(),
    hook_event_name: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/, { error: "must be a hook event name such as PreToolUse" }),
    transcript_path: z.string().optional(),
    cwd: z.string().optional(),
    permission_mode: z.string().optional(),
    agent_id: text(LIMITS.shortText).optional(),
    agent_type: z.string().max(LIMITS.shortText).optional(),
    tool_name: z.string().optional(),
    tool_use_id: z.string().optional(),
    prompt: z.string().optional(),
    source: z.string().optional(),
    reason: z.string().optional(),
    model: z.unknown().optional(),
    message: z.string().optional(),
    notification_type: z.string().optional(),
    last_assistant_message: z.string().optional(),
    session_title: z.string().optional(),
  }),
);
export type ClaudeCodeHookPayload = z.infer<typeof claudeCodeHookPayload>;

const HOOK_EVENT_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;
const optionalString = (value: unknown) => value === undefined || typeof value === "string";

/**
 * The rule of each field `claudeCodeHookPayload` names, as a predicate. Keyed like the schema's
 * shape; a test holds the two to the same keys and the same answers.
 */
export const CLAUDE_CODE_HOOK_FIELD_CHECKS: Readonly<Record<string, (value: unknown) => boolean>> = {
  session_id: (value) => isText(value, LIMITS.shortText) && value.length > 0,
  hook_event_name: (value) => typeof value === "string" && HOOK_EVENT_NAME.test(value),
  transcript_path: optionalString,
  cwd: optionalString,
  permission_mode: optionalString,
  agent_id: (value) => value === undefined || isText(value, LIMITS.shortText),
  agent_type: (value) => value === undefined || (typeof value === "string" && value.length <= LIMITS.shortText),
  tool_name: optionalString,
  tool_use_id: optionalString,
  prompt: optionalString,
  source: optionalString,
  reason: optionalString,
  model: () => true,
  message: optionalString,
  notification_type: optionalString,
  last_assistant_message: optionalString,
  session_title: optionalString,
};
const hookFieldChecks = Object.entries(CLAUDE_CODE_HOOK_FIELD_CHECKS);

/**
 * True exactly when `claudeCodeHookPayload` accepts `value`, without parsing it: Zod's parse
 * builds a copy of every payload (each key, known or not, into a new object, plus a result
 * per field), about 3 KB of garbage per 1 KB hook payload, which under batch load drove the
 * server's scavenges and so its RSS (docs/performance.md, `rss3`). Callers that keep the
 * payload itself use this and fall back to the schema only to say why a payload is refused.
 */
export function isClaudeCodeHookPayload(value: unknown): value is ClaudeCodeHookPayload {
  if (!isJsonObject(value)) return false;
  for (let i = 0; i < hookFieldChecks.length; i++) {
    const [key, check] = hookFieldChecks[i] as [string, (value: unknown) => boolean];
    if (!check(value[key])) return false;
  }
  return true;
}

/** One hook event as the emitter sends it: the payload plus the id and time it gave it. */
export const hookEnvelope = inputObject({
  id: uuid().optional(),
  occurredAt: storedDateTime().optional(),
  /** The machine the hook ran on (hostname), when known. */
  machineId: shortText().optional(),
  payload: z.unknown(),
});
export type HookEnvelope = z.input<typeof hookEnvelope>;

export const ingestHooksInput = inputObject({
  events: z
    .array(hookEnvelope)
    .min(1, { error: "send at least one event" })
    .max(LIMITS.maxBatch, { error: `send at most ${LIMITS.maxBatch} events per call` }),
});
export type IngestHooksInput = z.output<typeof ingestHooksInput>;

/** Hook ingest result, as event ingest's: a batch with a payload that is not a hook payload is refused whole. */
export const ingestHooksResult = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  ids: z.array(z.string()),
  /** Characters of the stored payloads PostgreSQL cannot hold (NUL, lone surrogates), stored as U+FFFD. */
  replacedCharacters: z.number().int().min(0),
});
export type IngestHooksResult = z.infer<typeof ingestHooksResult>;
