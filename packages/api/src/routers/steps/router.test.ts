import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("steps router", () => {
  it("runs a step through its moves; a move it cannot make is refused", async () => {
    const { id: sessionId } = await t.ingest.sessions.create({});
    const step = await t.ingest.steps.create({ sessionId, name: "  build  " });
    expect(step).toMatchObject({ name: "build", status: "pending" });
    await t.ingest.steps.start({ id: step.id });
    expect(await t.ingest.steps.complete({ id: step.id, output: { ok: true } })).toMatchObject({ status: "completed" });
    expect(await callError(t.ingest.steps.start({ id: step.id }))).toMatchObject({ code: "BAD_REQUEST" });
  });

  it("names a blank name, a negative sequence and a bad id; an unknown step is NOT_FOUND", async () => {
    const { id: sessionId } = await t.ingest.sessions.create({});
    expect(await callError(t.ingest.steps.create({ sessionId, name: "   " }))).toMatchObject({
      code: "BAD_REQUEST",
      message: "invalid input: name: must not be empty",
    });
    const sequence = await callError(t.ingest.steps.create({ sessionId, name: "x", sequence: -1 }));
    expect(sequence.issues?.map((issue) => issue.path)).toEqual(["sequence"]);
    expect(await callError(t.ingest.steps.start({ id: "nope" }))).toMatchObject({
      message: "invalid input: id: must be a UUID",
    });
    expect(await callError(t.ingest.steps.start({ id: randomUUID() }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await t.ingest.steps.list({ sessionId })).toEqual([]);
  });
});
