/**
 * Every router through the real server process and the real SDK, on real PostgreSQL:
 * the happy path of each procedure and its typical refusals, as a client sees them.
 */
import { randomUUID } from "node:crypto";

import { isLogbookError, type LogbookError } from "@logbook/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { failure, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

describe("health and auth", () => {
  it("health.check is open and reports a current database", async () => {
    const anonymous = h.clientFor("not-a-key");
    const health = await anonymous.health.check.query();
    expect(health).toMatchObject({
      status: "ok",
      database: { reachable: true, migrationsCurrent: true, embedded: false },
    });
  });

  it("auth.whoami names the key and its scopes", async () => {
    expect(await h.client.auth.whoami.query()).toMatchObject({ name: "local", scopes: ["ingest", "read"] });
    expect(await h.admin.auth.whoami.query()).toMatchObject({ name: "e2e-admin", scopes: ["admin"] });
  });
});

describe("sessions", () => {
  it("creates, gets (by id and external id), lists, updates, transitions, archives and deletes", async () => {
    const externalId = `ext-${randomUUID()}`;
    const created = await h.client.sessions.create.mutate({
      externalId,
      title: "first",
      projectPath: "/work/demo",
      status: "active",
    });
    expect(created).toMatchObject({ externalId, title: "first", status: "active", archivedAt: null });

    expect(await h.client.sessions.get.query({ id: created.id })).toMatchObject({ id: created.id });
    expect(await h.client.sessions.get.query({ externalId })).toMatchObject({ id: created.id });

    const child = await h.client.sessions.create.mutate({ parentSessionId: created.id, title: "child" });
    const listed = await h.client.sessions.list.query({ parentSessionId: created.id });
    expect(listed.items.map((s) => s.id)).toEqual([child.id]);
    const tree = await h.client.sessions.tree.query({ id: created.id });
    expect(tree.descendants.map((d) => [d.session.id, d.depth])).toEqual([[child.id, 1]]);

    const updated = await h.client.sessions.update.mutate({
      id: created.id,
      label: "important",
      pinned: true,
      metadata: { a: 1 },
    });
    expect(updated).toMatchObject({ label: "important", pinned: true, metadata: { a: 1 } });

    const completed = await h.client.sessions.transition.mutate({
      id: created.id,
      to: "completed",
      result: { ok: true },
    });
    expect(completed.status).toBe("completed");
    expect(completed.endedAt).not.toBeNull();

    const archived = await h.client.sessions.setArchived.mutate({ id: created.id, archived: true });
    expect(archived.archivedAt).not.toBeNull();
    const archivedOnly = await h.client.sessions.list.query({ archived: true });
    expect(archivedOnly.items.map((s) => s.id).sort()).toEqual([created.id, child.id].sort());

    expect(await h.admin.sessions.delete.mutate({ id: created.id })).toEqual({ deleted: 2 });
    const gone = await failure(h.client.sessions.get.query({ id: child.id }));
    expect(gone).toMatchObject({ code: "NOT_FOUND", httpStatus: 404, appCode: "NOT_FOUND" });
  });

  it("refuses an invalid transition, a duplicate external id and a malformed id with clear errors", async () => {
    const s = await h.client.sessions.create.mutate({ status: "active" });
    await h.client.sessions.transition.mutate({ id: s.id, to: "completed" });
    const invalid = await failure(h.client.sessions.transition.mutate({ id: s.id, to: "active" }));
    expect(invalid).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400, appCode: "INVALID_TRANSITION" });
    expect((invalid as LogbookError).message).toMatch(/completed/);

    const externalId = `dup-${randomUUID()}`;
    await h.client.sessions.create.mutate({ externalId });
    const duplicate = await failure(h.client.sessions.create.mutate({ externalId }));
    expect(duplicate).toMatchObject({ code: "CONFLICT", httpStatus: 409, appCode: "CONFLICT" });

    const malformed = await failure(h.client.sessions.get.query({ id: "not-a-uuid" }));
    expect(isLogbookError(malformed)).toBe(true);
    expect(malformed).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400, appCode: null });
    expect((malformed as LogbookError).issues).toEqual([
      { path: "id", message: "must be a UUID", code: "invalid_format" },
    ]);

    const missing = await failure(h.client.sessions.transition.mutate({ id: randomUUID(), to: "active" }));
    expect(missing).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("procedures whose every field is optional", () => {
  it("take no input at all, through the SDK and as a bare GET (was a 400 'expected object')", async () => {
    expect((await h.client.sessions.list.query()).items).toBeInstanceOf(Array);
    expect((await h.client.events.listRecent.query()).items).toBeInstanceOf(Array);
    expect((await h.client.projects.list.query()).items).toBeInstanceOf(Array);
    expect(await h.client.stats.toolUsage.query()).toBeDefined();
    for (const path of ["sessions.list", "events.listRecent", "projects.list", "stats.activeSessions"]) {
      const response = await fetch(`${h.server.url}/trpc/${path}`, {
        headers: { authorization: `Bearer ${h.server.apiKey}` },
      });
      expect(response.status, path).toBe(200);
    }
  });
});

describe("events and hooks", () => {
  it("ingests idempotently, lists a timeline and recent events, counts by type", async () => {
    const externalSessionId = `ev-${randomUUID()}`;
    const events = [
      { externalSessionId, eventType: "session_started", message: "hello" },
      { externalSessionId, eventType: "PreToolUse", toolName: "Bash", source: "hook" as const },
      { externalSessionId, eventType: "PreToolUse", toolName: "Read", source: "hook" as const },
    ];
    const first = await h.client.ingest(events);
    expect(first).toMatchObject({ accepted: 3, duplicates: 0 });
    expect(first.ids).toHaveLength(3);

    // The same events again, with the ids the SDK gave them: stored once.
    const timeline = await h.client.sessions.get.query({ externalId: externalSessionId });
    const page = await h.client.events.listForSession.query({ sessionId: timeline.id });
    expect(page.items.map((e) => e.id)).toEqual(first.ids);
    const again = await h.client.events.ingest.mutate({
      events: page.items.map((e) => ({
        id: e.id,
        sessionId: e.sessionId,
        eventType: e.eventType,
        occurredAt: e.occurredAt,
      })),
    });
    expect(again).toMatchObject({ accepted: 0, duplicates: 3 });

    const resumed = await h.client.events.listForSession.query({
      sessionId: timeline.id,
      afterSeq: expectDefined(page.items[0]).seq,
    });
    expect(resumed.items.map((e) => e.id)).toEqual(first.ids.slice(1));

    // The timeline without payloads: the same events, field for field, minus the payload;
    // one whole event by id; an unknown id is NOT_FOUND.
    const summaries = await h.client.events.listSummariesForSession.query({ sessionId: timeline.id, limit: 2 });
    expect(summaries.items).toEqual(page.items.slice(0, 2).map(({ payload: _payload, ...summary }) => summary));
    expect(summaries.nextCursor).not.toBeNull();
    const rest = await h.client.events.listSummariesForSession.query({
      sessionId: timeline.id,
      cursor: expectDefined(summaries.nextCursor),
    });
    expect(rest.items.map((e) => e.id)).toEqual(first.ids.slice(2));
    expect(await h.client.events.get.query({ id: expectDefined(first.ids[1]) })).toEqual(page.items[1]);
    await expect(h.client.events.get.query({ id: randomUUID() })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(h.client.events.listSummariesForSession.query({ sessionId: randomUUID() })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });

    const recent = await h.client.events.listRecent.query({ toolName: "Bash" });
    expect(recent.items.map((e) => e.id)).toContain(first.ids[1]);

    expect(await h.client.events.countsByType.query({ sessionId: timeline.id })).toEqual([
      { eventType: "PreToolUse", count: 2 },
      { eventType: "session_started", count: 1 },
    ]);
  });

  it("splits a large ingest into batches of 1000", async () => {
    const externalSessionId = `big-${randomUUID()}`;
    const events = Array.from({ length: 2_345 }, (_, i) => ({
      externalSessionId,
      eventType: "tick",
      message: String(i),
    }));
    const result = await h.client.ingest(events);
    expect(result).toMatchObject({ accepted: 2_345, duplicates: 0 });
    const session = await h.client.sessions.get.query({ externalId: externalSessionId });
    const counts = await h.client.events.countsByType.query({ sessionId: session.id });
    expect(counts).toEqual([{ eventType: "tick", count: 2_345 }]);
  });

  it("names the bad field of a bad event and writes nothing of the batch", async () => {
    const externalSessionId = `bad-${randomUUID()}`;
    const error = await failure(
      h.client.events.ingest.mutate({
        events: [
          { externalSessionId, eventType: "fine" },
          { externalSessionId, eventType: "9-starts-with-a-digit" },
        ],
      }),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400 });
    expect((error as LogbookError).issues.map((i) => i.path)).toEqual(["events.1.eventType"]);
    expect((error as LogbookError).message).toMatch(/events\.1\.eventType/);
    const absent = await failure(h.client.sessions.get.query({ externalId: externalSessionId }));
    expect(absent).toMatchObject({ code: "NOT_FOUND" });
  });

  it("hooks.ingest stores Claude Code payloads and refuses a non-hook payload", async () => {
    const sessionId = `hook-${randomUUID()}`;
    const result = await h.client.hooks.ingest.mutate({
      events: [{ payload: { session_id: sessionId, hook_event_name: "SessionStart", cwd: "/tmp", source: "startup" } }],
    });
    expect(result).toMatchObject({ accepted: 1, duplicates: 0 });
    const session = await h.client.sessions.get.query({ externalId: sessionId });
    expect(session.cwd).toBe("/tmp");

    const refused = await failure(h.client.hooks.ingest.mutate({ events: [{ payload: { nothing: "here" } }] }));
    expect(refused).toMatchObject({ code: "BAD_REQUEST", appCode: "INVALID_INPUT" });
  });
});

describe("session records", () => {
  let sessionId: string;
  beforeAll(async () => {
    sessionId = (await h.client.sessions.create.mutate({ title: "records" })).id;
  });

  it("messages: append and list", async () => {
    const message = await h.client.messages.append.mutate({ sessionId, role: "user", text: "hi there" });
    expect(message).toMatchObject({ sessionId, role: "user", text: "hi there" });
    const page = await h.client.messages.list.query({ sessionId });
    expect(page.items.map((m) => m.id)).toEqual([message.id]);
    const missing = await failure(
      h.client.messages.append.mutate({ sessionId: randomUUID(), role: "user", text: "x" }),
    );
    expect(missing).toMatchObject({ code: "NOT_FOUND" });
  });

  it("files: upsert, get with content, list without, delete; refuses paths outside the project", async () => {
    const file = await h.client.files.upsert.mutate({ sessionId, path: "src/a.ts", content: "export {};\n" });
    expect(file).toMatchObject({ path: "src/a.ts", sizeBytes: 11 });
    const again = await h.client.files.upsert.mutate({ sessionId, path: "src/a.ts", content: "export const a = 1;\n" });
    expect(again.id).toBe(file.id);
    expect((await h.client.files.get.query({ sessionId, path: "src/a.ts" })).content).toBe("export const a = 1;\n");
    const listed = await h.client.files.list.query({ sessionId });
    expect(listed.items.map((f) => f.path)).toEqual(["src/a.ts"]);
    expect(listed.items[0]).not.toHaveProperty("content");
    expect(await h.client.files.delete.mutate({ sessionId, path: "src/a.ts" })).toEqual({ deleted: true });

    const outside = await failure(h.client.files.upsert.mutate({ sessionId, path: "../etc/passwd", content: "x" }));
    expect(outside).toMatchObject({ code: "BAD_REQUEST" });
    expect((outside as LogbookError).issues[0]).toMatchObject({
      path: "path",
      message: "must not contain '..' segments",
    });
  });

  it("files: names Object.prototype knows are ordinary paths with no MIME type (was a 500 and a stored '{}')", async () => {
    for (const path of ["src/constructor", "a.constructor", "__proto__", "b.__proto__"]) {
      const file = await h.client.files.upsert.mutate({ sessionId, path, content: "x" });
      expect(file, path).toMatchObject({ path, mimeType: null });
    }
  });

  it("steps: create, start, complete, fail, skip, cancel, list", async () => {
    const a = await h.client.steps.create.mutate({ sessionId, name: "build" });
    const b = await h.client.steps.create.mutate({ sessionId, name: "test" });
    const c = await h.client.steps.create.mutate({ sessionId, name: "lint" });
    const d = await h.client.steps.create.mutate({ sessionId, name: "deploy" });
    expect((await h.client.steps.start.mutate({ id: a.id })).status).toBe("running");
    expect((await h.client.steps.complete.mutate({ id: a.id, output: { ok: true } })).status).toBe("completed");
    await h.client.steps.start.mutate({ id: b.id });
    expect(await h.client.steps.fail.mutate({ id: b.id, errorMessage: "2 failed" })).toMatchObject({
      status: "failed",
      errorMessage: "2 failed",
    });
    expect((await h.client.steps.skip.mutate({ id: c.id })).status).toBe("skipped");
    expect((await h.client.steps.cancel.mutate({ id: d.id })).status).toBe("cancelled");
    const steps = await h.client.steps.list.query({ sessionId });
    expect(steps.map((s) => s.name)).toEqual(["build", "test", "lint", "deploy"]);
    const twice = await failure(h.client.steps.complete.mutate({ id: a.id }));
    expect(twice).toMatchObject({ code: "BAD_REQUEST", appCode: "INVALID_TRANSITION" });
  });

  it("artifacts: create and list by type", async () => {
    const artifact = await h.client.artifacts.create.mutate({
      sessionId,
      artifactType: "report",
      name: "r.md",
      contentPath: "out/r.md",
      sizeBytes: 10,
    });
    await h.client.artifacts.create.mutate({ sessionId, artifactType: "log", name: "l.txt", contentPath: "out/l.txt" });
    const reports = await h.client.artifacts.list.query({ sessionId, artifactType: "report" });
    expect(reports.items.map((a) => a.id)).toEqual([artifact.id]);
  });
});

describe("projects and locks", () => {
  it("upserts, gets and lists projects; one lock holder at a time", async () => {
    const path = `/repos/${randomUUID()}`;
    const project = await h.client.projects.upsert.mutate({ path, name: "demo" });
    expect(await h.client.projects.upsert.mutate({ path: `${path}/` })).toMatchObject({ id: project.id });
    expect(await h.client.projects.get.query({ path })).toMatchObject({ id: project.id, name: "demo" });
    expect(await h.client.projects.get.query({ id: project.id })).toMatchObject({ path });
    const listed = await h.client.projects.list.query({ search: path.slice(-12) });
    expect(listed.items.map((p) => p.id)).toEqual([project.id]);

    const lock = await h.client.projects.locks.acquire.mutate({
      projectId: project.id,
      owner: "worker-1",
      ttlMs: 60_000,
    });
    expect(lock).toMatchObject({ projectId: project.id, owner: "worker-1" });
    const held = await failure(h.client.projects.locks.acquire.mutate({ projectId: project.id, owner: "worker-2" }));
    expect(held).toMatchObject({
      code: "CONFLICT",
      httpStatus: 409,
      appCode: "LOCK_HELD",
      details: { owner: "worker-1", projectId: project.id },
    });
    expect(
      (await h.client.projects.locks.renew.mutate({ projectId: project.id, owner: "worker-1" })).renewedAt,
    ).not.toBeNull();
    expect(await h.client.projects.locks.inspect.query({ projectId: project.id })).toMatchObject({ owner: "worker-1" });
    expect(await h.client.projects.locks.release.mutate({ projectId: project.id, owner: "worker-1" })).toEqual({
      released: true,
    });
    expect(await h.client.projects.locks.inspect.query({ projectId: project.id })).toBeNull();

    const unknown = await failure(h.client.projects.get.query({ id: randomUUID() }));
    expect(unknown).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("jobs", () => {
  it("enqueue, claim, extend, complete, fail, get, list, cancel, recover", async () => {
    const type = `e2e.${randomUUID().slice(0, 8)}`;
    const a = await h.client.jobs.enqueue.mutate({ type, data: { n: 1 }, priority: 5 });
    const b = await h.client.jobs.enqueue.mutate({ type, data: { n: 2 }, maxAttempts: 1 });
    const claimed = await h.client.jobs.claim.mutate({ workerId: "w1", types: [type], limit: 2 });
    expect(claimed.map((j) => j.id)).toEqual([a.id, b.id]);
    expect(claimed.every((j) => j.status === "running" && j.leaseOwner === "w1")).toBe(true);

    await h.client.jobs.extendLease.mutate({ id: a.id, workerId: "w1", leaseMs: 120_000 });
    const notMine = await failure(h.client.jobs.complete.mutate({ id: a.id, workerId: "w2" }));
    expect(isLogbookError(notMine)).toBe(true);
    expect((await h.client.jobs.complete.mutate({ id: a.id, workerId: "w1", result: { done: true } })).status).toBe(
      "completed",
    );
    expect((await h.client.jobs.fail.mutate({ id: b.id, workerId: "w1", error: "boom" })).status).toBe("failed");

    expect(await h.client.jobs.get.query({ id: a.id })).toMatchObject({ status: "completed", result: { done: true } });
    const failed = await h.client.jobs.list.query({ type, status: ["failed"] });
    expect(failed.items.map((j) => j.id)).toEqual([b.id]);

    const c = await h.client.jobs.enqueue.mutate({ type });
    expect((await h.admin.jobs.cancel.mutate({ id: c.id })).status).toBe("cancelled");
    const cannot = await failure(h.admin.jobs.cancel.mutate({ id: a.id }));
    expect(cannot).toMatchObject({ code: "BAD_REQUEST", appCode: "INVALID_TRANSITION" });
    expect(await h.admin.jobs.recoverExpiredLeases.mutate()).toEqual({ recovered: 0, failed: 0 });
  });
});

describe("stats and retention", () => {
  it("answers every stats query", async () => {
    const externalSessionId = `stats-${randomUUID()}`;
    await h.client.ingest([
      { externalSessionId, eventType: "PreToolUse", toolName: "Bash", source: "hook" },
      { externalSessionId, eventType: "PostToolUse", toolName: "Bash", source: "hook" },
    ]);
    const session = await h.client.sessions.get.query({ externalId: externalSessionId });
    const overview = await h.client.stats.overview.query();
    expect(overview.totalSessions).toBeGreaterThan(0);
    expect(overview.totalEvents).toBeGreaterThanOrEqual(2);
    const counts = await h.client.stats.eventCounts.query({ sessionId: session.id });
    expect(counts).toEqual(expect.arrayContaining([{ eventType: "PreToolUse", count: 1 }]));
    const tools = await h.client.stats.toolUsage.query({ sessionId: session.id });
    expect(tools[0]).toMatchObject({ toolName: "Bash" });
    const tokens = await h.client.stats.tokenTotals.query({ groupBy: "session", sessionId: session.id });
    expect(tokens.map((row) => row.key)).toEqual([session.id]);
    const active = await h.client.stats.activeSessions.query({});
    expect(Array.isArray(active)).toBe(true);
  });

  it("retention.run dry-runs by default and reports the policy", async () => {
    const report = await h.admin.retention.run.mutate({});
    expect(report).toMatchObject({ dryRun: true, ran: true, policy: { sessionMaxAgeDays: 365 } });
  });
});

describe("api keys", () => {
  it("creates (secret shown once), lists without secrets, revokes; a revoked key gets 401", async () => {
    const created = await h.admin.apiKeys.create.mutate({ name: "ci", scopes: ["read"] });
    expect(created.secret).toMatch(/^lbk_/);
    const readOnly = h.clientFor(created.secret);
    expect(await readOnly.auth.whoami.query()).toMatchObject({ keyId: created.key.id, scopes: ["read"] });

    const listed = await h.admin.apiKeys.list.query();
    const entry = listed.find((k) => k.id === created.key.id);
    expect(entry).toMatchObject({ name: "ci", scopes: ["read"], revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    expect(Object.keys(expectDefined(entry)).sort()).toEqual([
      "createdAt",
      "expiresAt",
      "id",
      "lastUsedAt",
      "name",
      "prefix",
      "revokedAt",
      "scopes",
    ]);

    expect((await h.admin.apiKeys.revoke.mutate({ id: created.key.id })).revokedAt).not.toBeNull();
    const refused = await failure(readOnly.auth.whoami.query());
    expect(refused).toMatchObject({ code: "UNAUTHORIZED", httpStatus: 401 });

    const badScope = await failure(h.admin.apiKeys.create.mutate({ name: "x", scopes: ["root" as "admin"] }));
    expect(badScope).toMatchObject({ code: "BAD_REQUEST" });
    expect((badScope as LogbookError).issues[0]?.path).toBe("scopes.0");
  });
});

describe("internal errors", () => {
  it("answer 500 'internal error' without SQL or stack, and the server keeps serving", async () => {
    const sessionId = (await h.client.sessions.create.mutate({})).id;
    // Break the schema under the server's feet: the query fails inside PostgreSQL.
    await h.db.knex.raw("ALTER TABLE artifacts RENAME TO artifacts_moved");
    try {
      const response = await fetch(
        `${h.server.url}/trpc/artifacts.list?input=${encodeURIComponent(JSON.stringify({ sessionId }))}`,
        {
          headers: { authorization: `Bearer ${h.server.apiKey}` },
        },
      );
      const text = await response.text();
      expect(response.status).toBe(500);
      expect(JSON.parse(text)).toMatchObject({
        error: { message: "internal error", data: { code: "INTERNAL_SERVER_ERROR", httpStatus: 500 } },
      });
      expect(text).not.toMatch(/relation|select |does not exist|42P01|stack|\.ts:|\.js:/i);
    } finally {
      await h.db.knex.raw("ALTER TABLE artifacts_moved RENAME TO artifacts");
    }
    expect(await h.client.artifacts.list.query({ sessionId })).toEqual({ items: [], nextCursor: null });
  });
});
