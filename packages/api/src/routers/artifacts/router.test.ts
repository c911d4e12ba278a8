import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("artifacts router", () => {
  it("creates and lists by type; a reader may list but not create", async () => {
    const { id: sessionId } = await t.ingest.sessions.create({});
    await t.ingest.artifacts.create({ sessionId, artifactType: "diff", name: "d", contentPath: "d.patch" });
    await t.ingest.artifacts.create({ sessionId, artifactType: "report", name: "r", contentPath: "r.md" });
    const reader = await t.kit.caller(["read"]);
    expect((await reader.artifacts.list({ sessionId, artifactType: "diff" })).items.map((a) => a.name)).toEqual(["d"]);
    expect(
      await callError(reader.artifacts.create({ sessionId, artifactType: "diff", name: "x", contentPath: "x" })),
    ).toMatchObject({ code: "FORBIDDEN" });
  });

  it("names a bad artifact type", async () => {
    const { id: sessionId } = await t.ingest.sessions.create({});
    const error = await callError(
      t.ingest.artifacts.create({ sessionId, artifactType: "no spaces", name: "d", contentPath: "d" }),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.message).toMatch(/^invalid input: artifactType: /);
  });
});
