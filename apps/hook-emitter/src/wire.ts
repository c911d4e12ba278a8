import type { IngestEvent } from "@logbook/contracts";

/**
 * The few rules of `@logbook/contracts` the emitter needs at run time, restated here.
 * Importing anything from the contracts package at run time would bundle zod (about 900 KB),
 * and merely parsing that on every hook run would double the hook's start-up time. The
 * contracts stay the source of truth: `wire.test.ts` checks these copies against them
 * (same limits, same child-session ids, every planned sample event accepted by `ingestEvent`).
 */

export const LIMITS = {
  maxBatch: 1000,
  maxJsonDepth: 64,
  shortText: 255,
  path: 4_096,
} as const;

export const EVENT_LEVELS = ["debug", "info", "warning", "error"] as const;

/** Same as the contracts' `subagentExternalId`: the external id of a subagent's own session. */
export function subagentExternalId(parentExternalId: string, agentId: string): string {
  return `${parentExternalId}:agent:${agentId}`;
}

function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  for (let entry = stack.pop(); entry; entry = stack.pop()) {
    const [node, depth] = entry;
    if (node === null || typeof node !== "object") continue;
    const next = depth + 1;
    if (next > max) max = next;
    if (max > LIMITS.maxJsonDepth) return max;
    for (const child of Array.isArray(node) ? node : Object.values(node as Record<string, unknown>)) {
      if (child !== null && typeof child === "object") stack.push([child, next]);
    }
  }
  return max;
}

/**
 * The checks an event built by the importer could still fail on the server (everything else
 * is correct by construction): session id length, payload depth. Undefined when fine.
 */
export function checkIngestEvent(event: IngestEvent): string | undefined {
  for (const key of ["externalSessionId", "parentExternalSessionId"] as const) {
    const value = event[key];
    if (value !== undefined && (value.length === 0 || value.length > LIMITS.shortText)) {
      return `${key} must be 1 to ${LIMITS.shortText} characters`;
    }
  }
  if (depthOf(event.payload) > LIMITS.maxJsonDepth)
    return `payload is nested deeper than ${LIMITS.maxJsonDepth} levels`;
  return undefined;
}
