import { createHash } from "node:crypto";

import { claimJobsInput } from "@logbook/contracts";
import { createTestDatabase, tablesContaining, type TestDatabase } from "@logbook/db/testing";
import { SECRET_FIELD_SAMPLES, SECRET_SAMPLES } from "@logbook/fixtures";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createServices, type Services } from "../services.js";
import { Redactor } from "./redactor.js";

/**
 * Redaction of what is written without an event: the services' own writers (messages, files,
 * steps, artifacts, session titles and labels, job data). Each path plants every secret shape
 * through the real service on real PostgreSQL; afterwards no table holds any of them, the
 * returned records hold the markers, and the session counts each replacement.
 */
const ALL_TEXT = SECRET_SAMPLES.map((s) => s.text).join("\n");
const PER_TEXT = SECRET_SAMPLES.length;
const FIELDS = Object.fromEntries(SECRET_FIELD_SAMPLES.map((f) => [f.key, f.secret]));
const PER_FIELDS = SECRET_FIELD_SAMPLES.length;
const SECRETS = [...SECRET_SAMPLES.map((s) => s.secret), ...SECRET_FIELD_SAMPLES.map((f) => f.secret)];
const TOKEN = expectDefined(SECRET_SAMPLES.find((s) => s.rule === "github-token" && !s.text.includes(" ")));

let db: TestDatabase;
let services: Services;

beforeAll(async () => {
  db = await createTestDatabase();
  services = createServices({ knex: db.knex });
});
afterAll(() => db.destroy());

const redactionsOf = async (id: string) => (await services.sessions.get({ id })).redactions;

describe("every writer of free text redacts before it writes, and counts on the session", () => {
  it("sessions, messages, files, steps, artifacts and jobs store no secret", async () => {
    const session = await services.sessions.create({
      title: TOKEN.text,
      label: TOKEN.text,
      initialQuery: ALL_TEXT,
      context: ALL_TEXT,
      metadata: { ...FIELDS, note: ALL_TEXT },
    });
    expect(session.title).toBe("[REDACTED:github-token]");
    expect(session.label).toBe("[REDACTED:github-token]");
    let expected = 2 + PER_TEXT * 3 + PER_FIELDS;
    expect(session.redactions).toBe(expected);
    const sessionId = session.id;

    const updated = await services.sessions.update({ id: sessionId, title: TOKEN.text, outputBuffer: ALL_TEXT });
    expected += 1 + PER_TEXT;
    expect(updated).toMatchObject({ title: "[REDACTED:github-token]", redactions: expected });

    const message = await services.messages.append({ sessionId, role: "user", text: ALL_TEXT });
    expect(message.text).toContain("[REDACTED:private-key]");
    expected += PER_TEXT;
    expect(await redactionsOf(sessionId)).toBe(expected);

    const file = await services.files.upsert({ sessionId, path: ".env", content: ALL_TEXT, encoding: "utf-8" });
    const stored = expectDefined(file.content);
    expect(stored).toContain("[REDACTED:secret-assignment]");
    // Size and hash are of what is stored, not of what was sent.
    expect(file.sha256).toBe(createHash("sha256").update(stored).digest("hex"));
    expect(file.sizeBytes).toBe(Buffer.byteLength(stored));
    expected += PER_TEXT;
    // Bytes (base64) are not text: stored as sent, nothing counted.
    const bytes = Buffer.from(TOKEN.secret).toString("base64");
    const binary = await services.files.upsert({ sessionId, path: "blob.bin", content: bytes, encoding: "base64" });
    expect(binary.content).toBe(bytes);

    const step = await services.steps.create({ sessionId, name: TOKEN.text, input: { ...FIELDS, command: ALL_TEXT } });
    expect(step.name).toBe("[REDACTED:github-token]");
    expected += 1 + PER_FIELDS + PER_TEXT;
    await services.steps.start({ id: step.id });
    const completed = await services.steps.complete({ id: step.id, output: { log: ALL_TEXT } });
    expect(JSON.stringify(completed.output)).toContain("[REDACTED:jwt]");
    expected += PER_TEXT;
    const failing = await services.steps.create({ sessionId, name: "deploy" });
    await services.steps.fail({ id: failing.id, errorMessage: ALL_TEXT, output: FIELDS });
    expected += PER_TEXT + PER_FIELDS;

    const artifact = await services.artifacts.create({
      sessionId,
      stepId: step.id,
      artifactType: "report",
      name: TOKEN.text,
      contentPath: "s3://deploy:s3cr3t-Pa55word@bucket/report.html",
      metadata: FIELDS,
    });
    expect(artifact.contentPath).toBe("s3://deploy:[REDACTED:url-password]@bucket/report.html");
    expected += 2 + PER_FIELDS;

    await services.jobs.enqueue({
      type: "export",
      data: { ...FIELDS, note: ALL_TEXT },
      priority: 0,
      maxAttempts: 2,
      sessionId,
    });
    expected += PER_FIELDS + PER_TEXT;
    const [claimed] = await services.jobs.claim(claimJobsInput.parse({ workerId: "w", limit: 1 }));
    await services.jobs.fail({ id: expectDefined(claimed).id, workerId: "w", error: ALL_TEXT, permanent: false });
    expected += PER_TEXT;
    await services.jobs.enqueue({ type: "export", data: {}, priority: 0, maxAttempts: 1, sessionId });
    const [again] = await services.jobs.claim(claimJobsInput.parse({ workerId: "w", types: ["export"], limit: 1 }));
    const done = await services.jobs.complete({
      id: expectDefined(again).id,
      workerId: "w",
      result: { out: ALL_TEXT },
    });
    expect(JSON.stringify(done.result)).toContain("[REDACTED:anthropic-api-key]");
    expected += PER_TEXT;

    const failed = await services.sessions.transition({ id: sessionId, to: "failed", errorMessage: ALL_TEXT });
    expected += PER_TEXT;
    expect(failed.redactions).toBe(expected);

    expect(await tablesContaining(db.knex, SECRETS)).toEqual([]);
  });

  it("with redaction off, a service stores what it is given and counts nothing", async () => {
    const off = createServices({ knex: db.knex, redactor: new Redactor({ enabled: false }) });
    const session = await off.sessions.create({ title: TOKEN.text });
    const message = await off.messages.append({ sessionId: session.id, role: "user", text: ALL_TEXT });
    expect(session.title).toBe(TOKEN.text);
    expect(message.text).toBe(ALL_TEXT);
    expect((await off.sessions.get({ id: session.id })).redactions).toBe(0);
  });

  it("a write that fails stores neither the record nor its count", async () => {
    const session = await services.sessions.create({});
    await expect(
      services.messages.append({ sessionId: session.id, role: "user", text: ALL_TEXT, externalMessageId: "m1" }),
    ).resolves.toBeDefined();
    const before = await redactionsOf(session.id);
    await expect(
      services.messages.append({ sessionId: session.id, role: "user", text: ALL_TEXT, externalMessageId: "m1" }),
    ).rejects.toThrow(/already has a message with external id m1/);
    expect(await redactionsOf(session.id)).toBe(before);
  });
});
