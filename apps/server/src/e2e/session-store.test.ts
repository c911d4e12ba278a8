/**
 * The Claude Agent SDK's SessionStore, as `LogbookSessionStore` (@logbook/sdk) against the
 * built server: the interface's documented behaviour (entries back deep-equal and in append
 * order, `uuid` as idempotency key, entries without one always appended, null for a key never
 * written, sessions listed with mtimes, subagent subkeys, delete), and the entries showing up
 * as the session's transcript in Logbook.
 */
import { LogbookSessionStore, type SessionStoreEntry } from "@logbook/sdk";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { failure, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

const PROJECT = "-home-dev-agent-app";

function user(text: string, at: string, parentUuid: string | null = null): SessionStoreEntry {
  return {
    type: "user",
    uuid: randomUUID(),
    parentUuid,
    timestamp: at,
    sessionId: "",
    message: { role: "user", content: text },
  };
}

describe("LogbookSessionStore", () => {
  it("gives back what was appended, deep-equal and in append order, each uuid once", async () => {
    const store = new LogbookSessionStore(h.client);
    const sessionId = randomUUID();
    const key = { projectKey: PROJECT, sessionId };
    expect(await store.load(key)).toBeNull();

    // Timestamps out of order on purpose: order is the order of the appends.
    const hello = { ...user("hello", "2026-11-30T10:00:05Z"), sessionId };
    const first: SessionStoreEntry[] = [hello, { type: "custom-title", customTitle: "greeting", sessionId }];
    const second = [
      { ...user("again", "2026-11-30T10:00:01Z", hello.uuid ?? null), sessionId },
      {
        type: "assistant",
        uuid: randomUUID(),
        timestamp: "2026-11-30T10:00:02Z",
        sessionId,
        requestId: "req_store_1",
        message: { id: "msg_1", role: "assistant", model: "claude-x", content: [{ type: "text", text: "hi" }] },
        nested: { list: [1, "two", { three: null }], unicode: "ünï – 😀" },
      },
    ];
    await store.append(key, first);
    await store.append(key, second);
    // A retried batch (same uuids) stores nothing twice; the uuid-less entry in it is appended again.
    await store.append(key, first);

    const loaded = await store.load(key);
    expect(loaded).toEqual([...first, ...second, first[1]]);
    // A key object with a field the Agent SDK may add one day: only the key's own fields are sent.
    const widerKey = { ...key, createdBy: "a newer Agent SDK" };
    expect(await store.load(widerKey)).toEqual(loaded);
    expect(await store.listSubkeys({ ...widerKey, subpath: "agent-x" } as typeof key)).toEqual([]);

    // It is the session's transcript in Logbook too.
    const session = await h.client.sessions.get.query({ externalId: sessionId });
    const { items } = await h.client.events.listForSession.query({ sessionId: session.id, limit: 50 });
    expect(items.map((e) => [e.source, e.eventType])).toEqual(
      expect.arrayContaining([
        ["transcript", "user"],
        ["transcript", "assistant"],
      ]),
    );
    expect(items.find((e) => e.eventType === "user")?.id).toBe(hello.uuid);
  });

  it("lists a project's sessions with their write times, and a session's subagent keys", async () => {
    const store = new LogbookSessionStore(h.client);
    const projectKey = `${PROJECT}-list`;
    const a = randomUUID();
    const b = randomUUID();
    const before = Date.now() - 60_000;
    await store.append({ projectKey, sessionId: a }, [user("a", "2026-11-30T11:00:00Z")]);
    await store.append({ projectKey, sessionId: b }, [user("b", "2026-11-30T11:00:00Z")]);
    const sub = { projectKey, sessionId: a, subpath: "subagents/agent-a1b2c3" };
    const subEntries = [{ ...user("task", "2026-11-30T11:00:01Z"), isSidechain: true, agentId: "a1b2c3" }];
    await store.append(sub, subEntries);

    const listed = await store.listSessions(projectKey);
    expect(listed.map((s) => s.sessionId).sort()).toEqual([a, b].sort());
    for (const s of listed) {
      expect(Number.isInteger(s.mtime)).toBe(true);
      expect(s.mtime).toBeGreaterThan(before);
    }
    expect(await store.listSubkeys({ projectKey, sessionId: a })).toEqual(["subagents/agent-a1b2c3"]);
    expect(await store.listSubkeys({ projectKey, sessionId: b })).toEqual([]);
    expect(await store.load(sub)).toEqual(subEntries);
    // The main transcript's load does not mix in the subagent's.
    expect(await store.load({ projectKey, sessionId: a })).toHaveLength(1);

    // In Logbook the subagent's transcript is a child session of the main one.
    const main = await h.client.sessions.get.query({ externalId: a });
    const tree = await h.client.sessions.tree.query({ id: main.id });
    expect(JSON.stringify(tree)).toContain("a1b2c3");
  });

  it("deletes a key and its Logbook session with an admin key; an ingest key may not", async () => {
    const projectKey = `${PROJECT}-delete`;
    const sessionId = randomUUID();
    const writer = new LogbookSessionStore(h.client);
    await writer.append({ projectKey, sessionId }, [user("x", "2026-11-30T12:00:00Z")]);
    await writer.append({ projectKey, sessionId, subpath: "subagents/agent-z" }, [user("y", "2026-11-30T12:00:01Z")]);

    expect(await failure(writer.delete({ projectKey, sessionId }))).toMatchObject({ code: "FORBIDDEN" });

    const admin = new LogbookSessionStore(h.admin);
    await admin.delete({ projectKey, sessionId });
    expect(await writer.load({ projectKey, sessionId })).toBeNull();
    expect(await writer.load({ projectKey, sessionId, subpath: "subagents/agent-z" })).toBeNull();
    expect(await writer.listSessions(projectKey)).toEqual([]);
    expect(await failure(h.client.sessions.get.query({ externalId: sessionId }))).toMatchObject({ code: "NOT_FOUND" });
  });

  it("refuses an entry without a type, naming it", async () => {
    const error = await failure(
      h.client.sessionStore.append.mutate({ projectKey: PROJECT, sessionId: "bad", entries: [{ uuid: "x" }] }),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect((error as Error).message).toMatch(/entries\.0.*type/);
  });
});
