/**
 * Status that tells the truth: waiting sessions with their reason ("needs you", longest
 * first), back to active on the next prompt or tool event, and quiet sessions settled by
 * time (idle after N minutes, ended after M hours) with a clock the test controls.
 */
import { ingestEventsInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { SessionService } from "./session-service.js";

const T0 = Date.parse("2026-06-01T09:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

describe("session status over time", () => {
  let db: TestDatabase;
  let events: EventService;
  let clock = new Date(T0);
  let sessions: SessionService;
  const hook = (session: string, minutes: number, eventType: string, payload: Record<string, unknown> = {}) =>
    events.ingest(
      ingestEventsInput.parse({
        events: [
          {
            id: uuidv7(),
            externalSessionId: session,
            eventType,
            source: "hook",
            occurredAt: at(minutes),
            payload: { session_id: session, hook_event_name: eventType, ...payload },
          },
        ] satisfies IngestEvent[],
      }),
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    sessions = new SessionService({ knex: db.knex, now: () => clock });
  });
  afterAll(async () => db.destroy());

  it("lists sessions waiting for the person, longest first, with what they wait for", async () => {
    await hook("wait-a", 0, "UserPromptSubmit", { prompt: "go" });
    await hook("wait-a", 1, "PermissionRequest", { tool_name: "Bash", tool_input: { command: "rm -rf build" } });
    await hook("wait-b", 0, "UserPromptSubmit", { prompt: "go" });
    await hook("wait-b", 5, "Notification", {
      notification_type: "idle_prompt",
      message: "Claude is waiting for your input",
    });
    await hook("busy", 0, "UserPromptSubmit", { prompt: "go" });

    clock = new Date(T0 + 10 * 60_000);
    const waiting = await sessions.needsYou({ limit: 50, includeHidden: false });
    expect(waiting.map((w) => [w.session.externalId, w.reason, w.waitingSince, w.waitingSeconds])).toEqual([
      ["wait-a", "permission: Bash", at(1), 540],
      ["wait-b", "idle_prompt: Claude is waiting for your input", at(5), 300],
    ]);

    // The session record says the same: what it waits for, since when.
    expect(await sessions.get({ externalId: "wait-b" })).toMatchObject({
      status: "waiting_input",
      statusReason: "idle_prompt: Claude is waiting for your input",
      statusChangedAt: at(5),
    });
    // The filters a session list has: by machine, by last activity.
    await hook("wait-c", 6, "Notification", { notification_type: "idle_prompt", message: "waiting" });
    await db.knex("sessions").where({ external_id: "wait-c" }).update({ machine_id: "laptop-2" });
    const names = (found: Awaited<ReturnType<typeof sessions.needsYou>>) => found.map((w) => w.session.externalId);
    expect(names(await sessions.needsYou({ limit: 50, includeHidden: false }))).toEqual(["wait-a", "wait-b", "wait-c"]);
    expect(names(await sessions.needsYou({ limit: 50, includeHidden: false, machineId: "laptop-2" }))).toEqual([
      "wait-c",
    ]);
    expect(names(await sessions.needsYou({ limit: 50, includeHidden: false, from: at(5) }))).toEqual([
      "wait-b",
      "wait-c",
    ]);
    expect(names(await sessions.needsYou({ limit: 1, includeHidden: false, parentSessionId: null }))).toEqual([
      "wait-a",
    ]);
    await hook("wait-c", 7, "UserPromptSubmit", { prompt: "ok" });

    // The person answers: the next tool event makes it active again, and it needs nobody.
    await hook("wait-a", 11, "PostToolUse", { tool_name: "Bash" });
    expect((await sessions.get({ externalId: "wait-a" })).status).toBe("active");
    expect((await sessions.needsYou({ limit: 50, includeHidden: false })).map((w) => w.session.externalId)).toEqual([
      "wait-b",
    ]);
  });

  it("settles quiet sessions: idle after N minutes, ended after M hours; a new prompt reopens", async () => {
    await hook("quiet", 0, "SessionStart", { source: "startup" });
    await hook("quiet", 2, "PreToolUse", { tool_name: "Read" });
    clock = new Date(T0 + 20 * 60_000);
    expect(await sessions.sweepInactive({ idleAfterMinutes: 30, endAfterHours: 24 })).toMatchObject({ idled: 0 });
    expect((await sessions.get({ externalId: "quiet" })).status).toBe("active");

    clock = new Date(T0 + 40 * 60_000);
    const first = await sessions.sweepInactive({ idleAfterMinutes: 30, endAfterHours: 24 });
    expect(first.idled).toBeGreaterThanOrEqual(1);
    const idle = await sessions.get({ externalId: "quiet" });
    expect(idle).toMatchObject({ status: "idle", isWorking: false });

    clock = new Date(T0 + 25 * 3_600_000);
    await sessions.sweepInactive({ idleAfterMinutes: 30, endAfterHours: 24 });
    const ended = await sessions.get({ externalId: "quiet" });
    expect(ended).toMatchObject({ status: "terminated", endedAt: at(2) });
    // Waiting sessions quiet that long are ended too: nobody is coming back to them.
    expect(await sessions.needsYou({ limit: 50, includeHidden: false })).toEqual([]);

    await hook("quiet", 25 * 60, "UserPromptSubmit", { prompt: "still there?" });
    expect(await sessions.get({ externalId: "quiet" })).toMatchObject({ status: "active", endedAt: null });
    // A second sweep at the same time changes nothing more.
    expect(await sessions.sweepInactive({ idleAfterMinutes: 30, endAfterHours: 24 })).toEqual({ idled: 0, ended: 0 });
  });

  it("an end the sweep guessed from quiet is overruled by the session's next event, a tool call or a transcript line", async () => {
    const line = (session: string, minutes: number, text: string) =>
      events.ingest(
        ingestEventsInput.parse({
          events: [
            {
              id: uuidv7(),
              externalSessionId: session,
              eventType: "user",
              source: "transcript",
              occurredAt: at(minutes),
              payload: {
                type: "user",
                sessionId: session,
                timestamp: at(minutes),
                message: { role: "user", content: text },
              },
            },
          ] satisfies IngestEvent[],
        }),
      );
    const start = 30 * 60; // minutes after T0, past the other tests' clock
    await hook("answered-late", start, "PermissionRequest", { tool_name: "Bash" });
    await line("synced-only", start, "first words");
    await hook("said-goodbye", start, "SessionEnd", { reason: "other" });
    expect((await sessions.get({ externalId: "synced-only" })).status).toBe("idle");

    clock = new Date(T0 + (start + 25 * 60) * 60_000);
    await sessions.sweepInactive({ idleAfterMinutes: 30, endAfterHours: 24 });
    for (const externalId of ["answered-late", "synced-only"]) {
      expect(await sessions.get({ externalId })).toMatchObject({
        status: "terminated",
        statusReason: "no events for 24 h",
        endedAt: at(start),
      });
    }

    // The person comes back a day later: the answered prompt's tool runs, the synced session goes on.
    await hook("answered-late", start + 25 * 60, "PostToolUse", { tool_name: "Bash" });
    expect(await sessions.get({ externalId: "answered-late" })).toMatchObject({
      status: "active",
      statusReason: null,
      endedAt: null,
    });
    await line("synced-only", start + 25 * 60, "and more words");
    expect(await sessions.get({ externalId: "synced-only" })).toMatchObject({
      status: "idle",
      statusReason: null,
      endedAt: null,
    });
    // A session that reported its own end stays ended: its transcript's later lines do not reopen it.
    await line("said-goodbye", start + 25 * 60, "a line after the end");
    expect(await sessions.get({ externalId: "said-goodbye" })).toMatchObject({
      status: "terminated",
      endedAt: at(start),
    });
  });
});
