/** `sessions.needsYou` through the real server and SDK: waiting sessions with their reason, longest first. */
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

const hook = (session: string, occurredAt: string, eventType: string, payload: Record<string, unknown>) => ({
  id: uuidv7(),
  externalSessionId: session,
  eventType,
  source: "hook" as const,
  occurredAt,
  payload: { session_id: session, hook_event_name: eventType, ...payload },
});

describe("sessions.needsYou", () => {
  it("lists the sessions waiting for the person, longest first, each with what it waits for", async () => {
    await h.client.events.ingest.mutate({
      events: [
        hook("ny-late", "2026-06-01T10:05:00Z", "Notification", {
          notification_type: "permission_prompt",
          message: "Claude needs your permission to use Bash",
        }),
        hook("ny-early", "2026-06-01T10:00:00Z", "PermissionRequest", { tool_name: "Write" }),
        hook("ny-working", "2026-06-01T10:00:00Z", "PreToolUse", { tool_name: "Read" }),
      ],
    });
    const waiting = await h.client.sessions.needsYou.query();
    expect(waiting.map((w) => [w.session.externalId, w.reason, w.waitingSince])).toEqual([
      ["ny-early", "permission: Write", "2026-06-01T10:00:00.000Z"],
      ["ny-late", "permission_prompt: Claude needs your permission to use Bash", "2026-06-01T10:05:00.000Z"],
    ]);
    expect(expectDefined(waiting[0]).waitingSeconds).toBeGreaterThan(expectDefined(waiting[1]).waitingSeconds);
  });
});
