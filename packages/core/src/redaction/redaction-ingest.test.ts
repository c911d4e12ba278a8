import { ingestEventsInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, tablesContaining, type TestDatabase } from "@logbook/db/testing";
import { SECRET_FIELD_SAMPLES, SECRET_SAMPLES } from "@logbook/fixtures";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { HookService } from "../hooks/hook-service.js";
import { SessionService } from "../sessions/session-service.js";
import { Redactor } from "./redactor.js";

/** Every planted text, one per line, and the JSON fields whose key names a secret. */
const ALL_TEXT = SECRET_SAMPLES.map((s) => s.text).join("\n");
const FIELDS = Object.fromEntries(SECRET_FIELD_SAMPLES.map((f) => [f.key, f.secret]));
const SECRETS = [...SECRET_SAMPLES.map((s) => s.secret), ...SECRET_FIELD_SAMPLES.map((f) => f.secret)];
const PER_TEXT = SECRET_SAMPLES.length;

const parse = (events: IngestEvent[]) => ingestEventsInput.parse({ events }).events;

/** A hook payload, a transcript's user and assistant lines and an SDK event, each carrying every shape. */
function plantedEvents(session: string): IngestEvent[] {
  const assistantId = `msg_${session}`;
  return [
    {
      externalSessionId: session,
      eventType: "UserPromptSubmit",
      source: "hook",
      message: ALL_TEXT,
      payload: { session_id: session, hook_event_name: "UserPromptSubmit", prompt: ALL_TEXT },
    },
    {
      externalSessionId: session,
      eventType: "user",
      source: "transcript",
      payload: { type: "user", sessionId: session, message: { role: "user", content: ALL_TEXT } },
    },
    {
      externalSessionId: session,
      eventType: "assistant",
      source: "transcript",
      payload: {
        type: "assistant",
        sessionId: session,
        message: {
          id: assistantId,
          role: "assistant",
          model: "claude-sonnet-4-5",
          content: [
            { type: "text", text: ALL_TEXT },
            { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: ALL_TEXT, env: FIELDS } },
          ],
          usage: { input_tokens: 10, output_tokens: 5 },
        },
      },
    },
    {
      externalSessionId: session,
      eventType: "note",
      source: "api",
      message: ALL_TEXT,
      payload: { note: ALL_TEXT, config: FIELDS },
    },
  ];
}

describe("redaction at ingest", () => {
  let db: TestDatabase;
  let events: EventService;
  let sessions: SessionService;
  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    sessions = new SessionService({ knex: db.knex });
  });
  afterAll(async () => db.destroy());

  it("stores no planted secret in any table, and counts each per event and per session", async () => {
    const planted = plantedEvents("redact-1").map((e) => ({ ...e, id: uuidv7() }));
    const first = await events.ingest({ events: parse(planted) });
    expect(first.accepted).toBe(planted.length);
    // Hook payloads (single post and batch) take the same path.
    const hooks = new HookService({ knex: db.knex }, events);
    await hooks.ingestPayload({
      session_id: "redact-1",
      hook_event_name: "PreToolUse",
      tool_input: { command: ALL_TEXT, ...FIELDS },
    });
    await hooks.ingest({
      events: [{ payload: { session_id: "redact-1", hook_event_name: "Notification", message: ALL_TEXT } }],
    });

    expect(await tablesContaining(db.knex, SECRETS)).toEqual([]);

    const session = await sessions.get({ externalId: "redact-1" });
    const stored = await events.listForSession({ sessionId: session.id, limit: 100 });
    const counts = Object.fromEntries(stored.items.map((e) => [e.eventType, e.redactions]));
    expect(counts).toEqual({
      UserPromptSubmit: 2 * PER_TEXT,
      user: PER_TEXT,
      assistant: 2 * PER_TEXT + SECRET_FIELD_SAMPLES.length,
      note: 2 * PER_TEXT + SECRET_FIELD_SAMPLES.length,
      PreToolUse: PER_TEXT + SECRET_FIELD_SAMPLES.length,
      // the hook's message is taken from the payload's `message`: both are redacted
      Notification: 2 * PER_TEXT,
    });
    const total = stored.items.reduce((sum, e) => sum + e.redactions, 0);
    expect(session.redactions).toBe(total);
    // What is derived was derived from the redacted text: the first prompt names the rules.
    expect(session.initialQuery).toContain("[REDACTED:private-key]");
    const assistant = expectDefined(
      stored.items.find((e) => e.eventType === "assistant"),
      "the assistant event",
    );
    expect(JSON.stringify(assistant.payload)).toContain("[REDACTED:secret-field]");

    // A retried batch is all duplicates and adds nothing to the session's count.
    const again = await events.ingest({ events: parse(planted) });
    expect(again.duplicates).toBe(planted.length);
    expect((await sessions.get({ id: session.id })).redactions).toBe(total);
  });

  it("with redaction off, stores events as given and counts nothing", async () => {
    const off = new EventService({ knex: db.knex, redactor: new Redactor({ enabled: false }) });
    await off.ingest({ events: parse(plantedEvents("redact-off")) });
    const session = await sessions.get({ externalId: "redact-off" });
    expect(session.redactions).toBe(0);
    const stored = await off.listForSession({ sessionId: session.id, limit: 100 });
    expect(stored.items.every((e) => e.redactions === 0)).toBe(true);
    expect((await tablesContaining(db.knex, SECRETS)).map((f) => f.table)).toContain("events");
  });
});
