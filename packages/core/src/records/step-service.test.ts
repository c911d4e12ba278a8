import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";

import { StepService } from "./step-service.js";
import { NO_SUCH_ID, newSession, rejection } from "../test-helpers.js";

let db: TestDatabase;
let steps: StepService;
beforeAll(async () => {
  db = await createTestDatabase();
  steps = new StepService({ knex: db.knex });
});
afterAll(() => db.destroy());

describe("StepService.create", () => {
  it("numbers steps after the last one and lists them in sequence order", async () => {
    const sessionId = await newSession(db.knex);
    const a = await steps.create({ sessionId, name: "analyse", input: { files: 3 } });
    const b = await steps.create({ sessionId, name: "build" });
    const late = await steps.create({ sessionId, name: "deploy", sequence: 10 });
    const c = await steps.create({ sessionId, name: "report" });
    const early = await steps.create({ sessionId, name: "prepare", sequence: 0 });
    expect([a.sequence, b.sequence, late.sequence, c.sequence, early.sequence]).toEqual([1, 2, 10, 11, 0]);
    expect(a).toMatchObject({
      status: "pending",
      input: { files: 3 },
      output: null,
      startedAt: null,
      completedAt: null,
    });
    const listed = await steps.list({ sessionId });
    expect(listed.map((s) => s.name)).toEqual(["prepare", "analyse", "build", "deploy", "report"]);
  });

  it("is race-safe: 20 concurrent creates get 20 distinct sequences", async () => {
    const sessionId = await newSession(db.knex);
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => steps.create({ sessionId, name: `s${i}` })));
    expect(made.map((s) => s.sequence).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("refuses a taken sequence and an unknown session, naming them", async () => {
    const sessionId = await newSession(db.knex);
    await steps.create({ sessionId, name: "one", sequence: 2 });
    const taken = await rejection(steps.create({ sessionId, name: "two", sequence: 2 }));
    expect(taken).toMatchObject({
      code: "CONFLICT",
      message: `session ${sessionId} already has a step with sequence 2`,
    });
    const unknown = await rejection(steps.create({ sessionId: NO_SUCH_ID, name: "x" }));
    expect(unknown).toMatchObject({ code: "NOT_FOUND", message: `session ${NO_SUCH_ID} was not found` });
    expect(await steps.list({ sessionId })).toHaveLength(1);
    expect(await rejection(steps.list({ sessionId: NO_SUCH_ID }))).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("StepService transitions", () => {
  it("pending → running → completed, with times and output", async () => {
    const sessionId = await newSession(db.knex);
    const step = await steps.create({ sessionId, name: "build" });
    const running = await steps.start({ id: step.id });
    expect(running.status).toBe("running");
    expect(running.startedAt).not.toBeNull();
    const done = await steps.complete({ id: step.id, output: ["artifact.zip", 2] });
    expect(done).toMatchObject({ status: "completed", output: ["artifact.zip", 2] });
    expect(done.completedAt).not.toBeNull();
  });

  it("fails from pending or running, skips from pending, cancels", async () => {
    const sessionId = await newSession(db.knex);
    const [a, b, c, d] = await Promise.all(
      ["a", "b", "c", "d"].map((name, i) => steps.create({ sessionId, name, sequence: i })),
    );
    expect(await steps.fail({ id: expectDefined(a).id, errorMessage: "never ran" })).toMatchObject({
      status: "failed",
      errorMessage: "never ran",
    });
    await steps.start({ id: expectDefined(b).id });
    expect(await steps.fail({ id: expectDefined(b).id, errorMessage: "crashed", output: "partial" })).toMatchObject({
      status: "failed",
      errorMessage: "crashed",
      output: "partial",
    });
    expect((await steps.skip({ id: expectDefined(c).id })).status).toBe("skipped");
    expect((await steps.cancel({ id: expectDefined(d).id })).status).toBe("cancelled");
  });

  it.each([
    ["complete", "pending", "completed", "running"],
    ["skip", "running", "skipped", "pending"],
    ["start", "completed", "running", "pending"],
    ["fail", "completed", "failed", "pending or running"],
    ["complete", "completed", "completed", "running"],
  ] as const)("%s from %s is INVALID_TRANSITION naming both states", async (move, from, to, allowed) => {
    const sessionId = await newSession(db.knex);
    const step = await steps.create({ sessionId, name: "x" });
    if (from !== "pending") await steps.start({ id: step.id });
    if (from === "completed") await steps.complete({ id: step.id });
    const call = {
      start: () => steps.start({ id: step.id }),
      complete: () => steps.complete({ id: step.id }),
      fail: () => steps.fail({ id: step.id, errorMessage: "x" }),
      skip: () => steps.skip({ id: step.id }),
    }[move];
    const error = await rejection(call());
    expect(error).toMatchObject({ code: "INVALID_TRANSITION", details: { from, to } });
    expect(error.message).toBe(`step ${step.id} cannot go from ${from} to ${to} (only from ${allowed})`);
    expect(expectDefined((await steps.list({ sessionId }))[0]).status).toBe(from);
  });

  it("two concurrent starts: exactly one succeeds", async () => {
    const sessionId = await newSession(db.knex);
    const step = await steps.create({ sessionId, name: "x" });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => steps.start({ id: step.id })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("unknown step is NOT_FOUND", async () => {
    expect(await rejection(steps.start({ id: NO_SUCH_ID }))).toMatchObject({
      code: "NOT_FOUND",
      message: `step ${NO_SUCH_ID} was not found`,
    });
  });
});
