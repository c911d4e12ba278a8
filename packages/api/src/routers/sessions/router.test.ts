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

  it("exports a session as a file's content; a bad format is a BAD_REQUEST naming the field", async () => {
    const created = await t.ingest.sessions.create({ externalId: `exp/${randomUUID()}`, title: "Export me" });
    const md = await t.ingest.sessions.export({ id: created.id, format: "md" });
    expect(md).toMatchObject({
      fileName: `${String(created.externalId).replace("/", "_")}.md`,
      sessions: 1,
      events: 0,
    });
    expect(md.content).toMatch(/^# Export me\n/);
    // @ts-expect-error -- a format the contract does not have
    const error = await callError(t.ingest.sessions.export({ id: created.id, format: "pdf" }));
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.issues?.[0]).toMatchObject({ path: "format", message: "must be one of md, json, jsonl" });
    const writer = await t.kit.caller(["ingest"]);
    expect(await callError(writer.sessions.export({ id: created.id, format: "md" }))).toMatchObject({
      code: "FORBIDDEN",
    });
  });
});
