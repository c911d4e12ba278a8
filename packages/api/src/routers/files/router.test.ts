import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("files router", () => {
  it.each([
    ["../etc/passwd", "'..' segments"],
    ["src\\..\\..\\secret", "'..' segments"],
    ["c:relative", "not absolute"],
  ])("refuses the path %j, saying why, and stores nothing", async (path, why) => {
    const { id: sessionId } = await t.ingest.sessions.create({});
    const error = await callError(t.ingest.files.upsert({ sessionId, path, content: "x" }));
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toContain("path: ");
    expect(error.message).toContain(why);
    expect((await t.ingest.files.list({ sessionId })).items).toEqual([]);
  });

  it("refuses a path that names no file and a bad hash; stores, replaces and deletes a file", async () => {
    const { id: sessionId } = await t.ingest.sessions.create({});
    expect(await callError(t.ingest.files.upsert({ sessionId, path: "./", content: "x" }))).toMatchObject({
      code: "BAD_REQUEST",
      appCode: "INVALID_INPUT",
      message: 'file path "./" does not name a file',
    });
    const hash = await callError(t.ingest.files.upsert({ sessionId, path: "a", sha256: "xyz" }));
    expect(hash.message).toMatch(/sha256: must be 64 lowercase hex digits/);
    await t.ingest.files.upsert({ sessionId, path: "src/a.ts", content: "one" });
    await t.ingest.files.upsert({ sessionId, path: "src/a.ts", content: "two" });
    expect((await t.ingest.files.get({ sessionId, path: "src/a.ts" })).content).toBe("two");
    expect(await t.ingest.files.delete({ sessionId, path: "src/a.ts" })).toEqual({ deleted: true });
  });
});
