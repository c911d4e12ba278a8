import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("messages router", () => {
  it("appends and lists a session's messages", async () => {
    const { id: sessionId } = await t.ingest.sessions.create({});
    await t.ingest.messages.append({ sessionId, role: "user", text: "hello" });
    const page = await t.ingest.messages.list({ sessionId });
    expect(page.items.map((m) => m.text)).toEqual(["hello"]);
  });

  it("names a bad role or token count, and writes nothing", async () => {
    const { id: sessionId } = await t.ingest.sessions.create({});
    const role = await callError(t.ingest.messages.append({ sessionId, role: "robot" as "user", text: "x" }));
    expect(role).toMatchObject({ code: "BAD_REQUEST" });
    expect(role.message).toMatch(/^invalid input: role: /);
    const tokens = await callError(t.ingest.messages.append({ sessionId, role: "user", text: "x", inputTokens: -1 }));
    expect(tokens.issues?.map((issue) => issue.path)).toEqual(["inputTokens"]);
    expect((await t.ingest.messages.list({ sessionId })).items).toEqual([]);
  });

  it("an unknown session is NOT_FOUND", async () => {
    const id = randomUUID();
    expect(await callError(t.ingest.messages.list({ sessionId: id }))).toMatchObject({
      code: "NOT_FOUND",
      message: `session ${id} was not found`,
    });
  });
});
