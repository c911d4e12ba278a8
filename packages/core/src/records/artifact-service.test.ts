import { listArtifactsInput } from "@logbook/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";

import { ArtifactService } from "./artifact-service.js";
import { StepService } from "./step-service.js";
import { NO_SUCH_ID, allPages, newSession, rejection } from "../test-helpers.js";

let db: TestDatabase;
let artifacts: ArtifactService;
let steps: StepService;
beforeAll(async () => {
  db = await createTestDatabase();
  artifacts = new ArtifactService({ knex: db.knex });
  steps = new StepService({ knex: db.knex });
});
afterAll(() => db.destroy());

describe("ArtifactService", () => {
  it("creates artifacts, tied to a step of the same session or to none", async () => {
    const sessionId = await newSession(db.knex);
    const step = await steps.create({ sessionId, name: "generate" });
    const artifact = await artifacts.create({
      sessionId,
      stepId: step.id,
      artifactType: "test_file",
      name: "FooTest.java",
      contentPath: "out/FooTest.java",
      sizeBytes: 120,
      metadata: { lines: 10 },
    });
    expect(artifact).toMatchObject({
      sessionId,
      stepId: step.id,
      artifactType: "test_file",
      sizeBytes: 120,
      metadata: { lines: 10 },
    });
    const loose = await artifacts.create({ sessionId, artifactType: "report", name: "r", contentPath: "out/r.html" });
    expect(loose).toMatchObject({ stepId: null, sizeBytes: null, metadata: {} });
  });

  it("refuses a step of another session, an unknown step or session", async () => {
    const sessionId = await newSession(db.knex);
    const otherSession = await newSession(db.knex);
    const foreign = await steps.create({ sessionId: otherSession, name: "theirs" });
    const error = await rejection(
      artifacts.create({ sessionId, stepId: foreign.id, artifactType: "diff", name: "d", contentPath: "d.patch" }),
    );
    expect(error).toMatchObject({ code: "INVALID_INPUT" });
    expect(error.message).toBe(`step ${foreign.id} belongs to session ${otherSession}, not to session ${sessionId}`);
    expect(
      await rejection(
        artifacts.create({ sessionId, stepId: NO_SUCH_ID, artifactType: "diff", name: "d", contentPath: "d" }),
      ),
    ).toMatchObject({ code: "NOT_FOUND", message: `step ${NO_SUCH_ID} was not found` });
    expect(
      await rejection(artifacts.create({ sessionId: NO_SUCH_ID, artifactType: "diff", name: "d", contentPath: "d" })),
    ).toMatchObject({ code: "NOT_FOUND", message: `session ${NO_SUCH_ID} was not found` });
    expect((await artifacts.list(listArtifactsInput.parse({ sessionId }))).items).toEqual([]);
  });

  it("lists oldest first, page by page, optionally of one type", async () => {
    const sessionId = await newSession(db.knex);
    const made = [];
    for (let i = 0; i < 5; i += 1) {
      made.push(
        await artifacts.create({
          sessionId,
          artifactType: i % 2 ? "report" : "backup",
          name: `a${i}`,
          contentPath: `p${i}`,
        }),
      );
    }
    const { items, pages } = await allPages((cursor) =>
      artifacts.list({ sessionId, limit: 2, ...(cursor ? { cursor } : {}) }),
    );
    expect(items.map((a) => a.name)).toEqual(["a0", "a1", "a2", "a3", "a4"]);
    expect(pages).toBe(3);
    expect(
      (await artifacts.list(listArtifactsInput.parse({ sessionId, artifactType: "report" }))).items.map((a) => a.name),
    ).toEqual(["a1", "a3"]);
    expect(await rejection(artifacts.list(listArtifactsInput.parse({ sessionId: NO_SUCH_ID })))).toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
