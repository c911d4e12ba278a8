import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("apiKeys router", () => {
  it("is for admin keys only", async () => {
    const ingest = await t.kit.caller(["ingest", "read"]);
    expect(await callError(ingest.apiKeys.list())).toMatchObject({ code: "FORBIDDEN", appCode: "FORBIDDEN" });
    expect(await callError(ingest.apiKeys.create({ name: "x", scopes: ["read"] }))).toMatchObject({
      code: "FORBIDDEN",
    });
  });

  it("shows a secret once, never in the list; a revoked key stops working", async () => {
    const admin = await t.kit.caller(["admin"]);
    const created = await admin.apiKeys.create({ name: "  worker  ", scopes: ["ingest"] });
    expect(created.key.name).toBe("worker");
    const listed = await admin.apiKeys.list();
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    await admin.apiKeys.revoke({ id: created.key.id });
    expect(await t.kit.services.apiKeys.verify(created.secret)).toBeNull();
  });

  it("names each bad field", async () => {
    const admin = await t.kit.caller(["admin"]);
    const error = await callError(admin.apiKeys.create({ name: "", scopes: [] }));
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.issues?.map((issue) => issue.path)).toEqual(["name", "scopes"]);
    expect(error.message).toBe("invalid input: name: must not be empty (and 1 more)");
  });
});
