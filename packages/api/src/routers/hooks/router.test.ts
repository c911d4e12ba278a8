import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("hooks router", () => {
  it("stores hook payloads in envelopes and names a bad envelope field", async () => {
    const ingest = await t.kit.caller(["ingest"]);
    const payload = { session_id: randomUUID(), hook_event_name: "SessionStart", cwd: "/tmp", source: "startup" };
    expect(await ingest.hooks.ingest({ events: [{ id: randomUUID(), payload }] })).toMatchObject({ accepted: 1 });
    const error = await callError(ingest.hooks.ingest({ events: [{ id: "x", payload }] }));
    expect(error).toMatchObject({ code: "BAD_REQUEST", message: "invalid input: events.0.id: must be a UUID" });
    const badPayload = { ...payload, session_id: "" };
    expect(await callError(ingest.hooks.ingest({ events: [{ payload }, { payload: badPayload }] }))).toMatchObject({
      code: "BAD_REQUEST",
      message: "events[1].payload: invalid Claude Code hook payload: session_id: must not be empty",
      issues: [{ path: "events.1.payload.session_id", message: "must not be empty" }],
    });
    expect(await callError(ingest.hooks.ingest({ events: [] }))).toMatchObject({
      message: "invalid input: events: send at least one event",
    });
  });

  it("needs the ingest scope", async () => {
    const reader = await t.kit.caller(["read"]);
    expect(await callError(reader.hooks.ingest({ events: [{ payload: {} }] }))).toMatchObject({ code: "FORBIDDEN" });
  });
});
