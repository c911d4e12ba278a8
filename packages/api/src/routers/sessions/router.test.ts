import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("sessions router", () => {
  it("needs the ingest scope to write and admin to delete", async () => {
    const reader = await t.kit.caller(["read"]);
    expect(await callError(reader.sessions.create({}))).toMatchObject({ code: "FORBIDDEN" });
    const created = await t.ingest.sessions.create({ title: "t" });
    expect(await callError(t.ingest.sessions.delete({ id: created.id }))).toMatchObject({ code: "FORBIDDEN" });
    const admin = await t.kit.caller(["admin"]);
    expect(await admin.sessions.delete({ id: created.id })).toEqual({ deleted: 1 });
  });

  it("applies the contract's defaults before the service sees the input", async () => {
    const created = await t.ingest.sessions.create({ externalId: `ext-${randomUUID()}` });
    expect(created.status).toBe("pending");
    const page = await t.ingest.sessions.list({});
    expect(page.items.map((s) => s.id)).toContain(created.id);
  });

  it("refuses a move the state machine forbids, saying where it can go", async () => {
    const created = await t.ingest.sessions.create({ status: "completed" });
    const error = await callError(t.ingest.sessions.transition({ id: created.id, to: "active" }));
    expect(error).toMatchObject({ code: "BAD_REQUEST", appCode: "INVALID_TRANSITION" });
    expect(error.message).toMatch(/completed is a terminal state/);
  });

  it("names each bad field, and an unknown id is NOT_FOUND", async () => {
    const error = await callError(t.ingest.sessions.get({ id: "nope" }));
    expect(error).toMatchObject({ code: "BAD_REQUEST", message: "invalid input: id: must be a UUID" });
    expect(error.issues).toEqual([{ path: "id", message: "must be a UUID", code: "invalid_format" }]);
    expect(await callError(t.ingest.sessions.get({ id: randomUUID() }))).toMatchObject({ code: "NOT_FOUND" });
  });
});
