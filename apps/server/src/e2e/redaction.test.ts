import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { tablesContaining } from "@logbook/db/testing";
import { SECRET_FIELD_SAMPLES, SECRET_SAMPLES } from "@logbook/fixtures";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startHarness, startRefused, type Harness } from "./harness.js";

/**
 * Redaction before storage through the real server: secrets planted in a hook post, an SDK
 * hook batch and an SDK event batch are in no table afterwards; the counts show in the DTOs;
 * an extra rules file's rules apply; a rules file that does not parse stops the start.
 */
const ALL_TEXT = SECRET_SAMPLES.map((s) => s.text).join("\n");
const FIELDS = Object.fromEntries(SECRET_FIELD_SAMPLES.map((f) => [f.key, f.secret]));
const CUSTOM = "acme_0123456789abcdef";
const SECRETS = [...SECRET_SAMPLES.map((s) => s.secret), ...SECRET_FIELD_SAMPLES.map((f) => f.secret), CUSTOM];

async function rulesFile(content: unknown): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "logbook-rules-")), "rules.json");
  await writeFile(path, typeof content === "string" ? content : JSON.stringify(content), { mode: 0o600 });
  return path;
}

let h: Harness;
beforeAll(async () => {
  const rules = await rulesFile({ rules: [{ id: "acme-token", pattern: "acme_[a-z0-9]{16}", keywords: ["acme_"] }] });
  h = await startHarness({ env: { LOGBOOK_REDACTION_RULES_FILE: rules } });
});
afterAll(() => h?.stop());

describe("redaction before storage, end to end", () => {
  it("stores none of the planted secrets in any table and shows the counts per event and session", async () => {
    const session = "e2e-redaction";
    const post = await fetch(`${h.server.url}/hooks/claude-code`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.server.apiKey}` },
      body: JSON.stringify({
        session_id: session,
        hook_event_name: "UserPromptSubmit",
        prompt: `${ALL_TEXT}\nand ${CUSTOM}`,
      }),
    });
    expect(post.status).toBe(200);
    await h.client.hooks.ingest.mutate({
      events: [
        {
          payload: { session_id: session, hook_event_name: "PreToolUse", tool_input: { command: ALL_TEXT, ...FIELDS } },
        },
      ],
    });
    const sdk = await h.client.events.ingest.mutate({
      events: [{ externalSessionId: session, eventType: "note", message: ALL_TEXT, payload: { config: FIELDS } }],
    });

    expect(await tablesContaining(h.db.knex, SECRETS)).toEqual([]);

    const note = await h.client.events.get.query({ id: expectDefined(sdk.ids[0], "the ingested event's id") });
    expect(note.redactions).toBe(SECRET_SAMPLES.length + SECRET_FIELD_SAMPLES.length);
    expect(note.message).toContain("[REDACTED:aws-access-key-id]");
    expect(note.payload).toEqual({
      config: Object.fromEntries(SECRET_FIELD_SAMPLES.map((f) => [f.key, "[REDACTED:secret-field]"])),
    });
    const stored = await h.client.sessions.get.query({ externalId: session });
    const timeline = await h.client.events.listSummariesForSession.query({ sessionId: stored.id });
    expect(timeline.items.map((e) => e.redactions)).toEqual([
      // the prompt: in the payload and in the message made from it, each with the extra rule's match
      2 * (SECRET_SAMPLES.length + 1),
      SECRET_SAMPLES.length + SECRET_FIELD_SAMPLES.length,
      SECRET_SAMPLES.length + SECRET_FIELD_SAMPLES.length,
    ]);
    expect(stored.redactions).toBe(timeline.items.reduce((sum, e) => sum + e.redactions, 0));
    expect(stored.initialQuery).toContain("[REDACTED:acme-token]");
  });

  it("the API's other writers (sessions, messages, files, steps, artifacts, jobs) store no secret and count each", async () => {
    const text = `${ALL_TEXT}\nand ${CUSTOM}`;
    const per = SECRET_SAMPLES.length + 1;
    const session = await h.client.sessions.create.mutate({ title: CUSTOM, metadata: { note: text, ...FIELDS } });
    expect(session.title).toBe("[REDACTED:acme-token]");
    const sessionId = session.id;
    const message = await h.client.messages.append.mutate({ sessionId, role: "user", text });
    expect(message.text).toContain("[REDACTED:acme-token]");
    const file = await h.client.files.upsert.mutate({ sessionId, path: "deploy/.env", content: text });
    expect(file.content).toContain("[REDACTED:secret-assignment]");
    const step = await h.client.steps.create.mutate({ sessionId, name: "deploy", input: { ...FIELDS, log: text } });
    await h.client.artifacts.create.mutate({
      sessionId,
      stepId: step.id,
      artifactType: "log",
      name: "deploy log",
      contentPath: `logs/${CUSTOM}.txt`,
      metadata: FIELDS,
    });
    await h.client.jobs.enqueue.mutate({ type: "notify", data: { note: text }, sessionId });

    expect(await tablesContaining(h.db.knex, SECRETS)).toEqual([]);
    const fields = SECRET_FIELD_SAMPLES.length;
    const expected = 1 + (per + fields) + per + per + (fields + per) + (1 + fields) + per;
    expect((await h.client.sessions.get.query({ id: sessionId })).redactions).toBe(expected);
  });

  it("will not start with a rules file that does not parse, and says why", async () => {
    const bad = await rulesFile({ rules: [{ id: "broken", pattern: "([a-z]" }] });
    const result = await startRefused({
      PATH: process.env.PATH,
      DATABASE_URL: h.db.url,
      LOGBOOK_REDACTION_RULES_FILE: bad,
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /LOGBOOK_REDACTION_RULES_FILE: redaction rules file .* is not a valid rules file: rules\.0\.pattern: is not a valid JavaScript regular expression/,
    );
  });
});
