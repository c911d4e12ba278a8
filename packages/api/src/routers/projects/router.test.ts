import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("projects router", () => {
  it("upserts by canonical path and names an empty one", async () => {
    const path = `/work/${randomUUID()}`;
    const project = await t.ingest.projects.upsert({ path: `${path}/` });
    expect(project.path).toBe(path);
    expect((await t.ingest.projects.get({ path })).id).toBe(project.id);
    expect(await callError(t.ingest.projects.upsert({ path: "" }))).toMatchObject({ code: "BAD_REQUEST" });
    expect((await callError(t.ingest.projects.upsert({ path: "" }))).message).toMatch(/^invalid input: path: /);
  });
});

describe("projects.locks router", () => {
  it("one holder at a time: another gets CONFLICT with the holder in details", async () => {
    const { id: projectId } = await t.ingest.projects.upsert({ path: `/locks/${randomUUID()}` });
    await t.ingest.projects.locks.acquire({ projectId, owner: "a" });
    const held = await callError(t.ingest.projects.locks.acquire({ projectId, owner: "b" }));
    expect(held).toMatchObject({ code: "CONFLICT", appCode: "LOCK_HELD" });
    expect(await t.ingest.projects.locks.release({ projectId, owner: "a" })).toEqual({ released: true });
    expect(await t.ingest.projects.locks.inspect({ projectId })).toBeNull();
  });

  it("names a bad ttl, id or owner", async () => {
    const { id: projectId } = await t.ingest.projects.upsert({ path: `/locks/${randomUUID()}` });
    const ttl = await callError(t.ingest.projects.locks.acquire({ projectId, owner: "a", ttlMs: 10 }));
    expect(ttl.issues?.map((issue) => issue.path)).toEqual(["ttlMs"]);
    expect(await callError(t.ingest.projects.locks.inspect({ projectId: "not-a-uuid" }))).toMatchObject({
      code: "BAD_REQUEST",
      message: "invalid input: projectId: must be a UUID",
    });
    const owner = await callError(t.ingest.projects.locks.release({ projectId, owner: "" }));
    expect(owner.issues?.map((issue) => issue.path)).toEqual(["owner"]);
  });
});
