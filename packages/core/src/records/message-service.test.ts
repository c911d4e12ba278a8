import { listMessagesInput } from "@logbook/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";

import { MessageService } from "./message-service.js";
import { NO_SUCH_ID, allPages, newSession, rejection } from "../test-helpers.js";

let db: TestDatabase;
let messages: MessageService;
beforeAll(async () => {
  db = await createTestDatabase();
  messages = new MessageService({ knex: db.knex });
});
afterAll(() => db.destroy());

describe("MessageService", () => {
  it("appends and lists a conversation in order, page by page", async () => {
    const sessionId = await newSession(db.knex);
    const texts = ["hello", "hi, how can I help?", "fix the bug", "done", "thanks"];
    for (const [i, text] of texts.entries()) {
      await messages.append({
        sessionId,
        role: i % 2 ? "assistant" : "user",
        text,
        ...(i % 2 ? { model: "claude" } : {}),
      });
    }
    const { items, pages } = await allPages((cursor) =>
      messages.list({ sessionId, limit: 2, ...(cursor ? { cursor } : {}) }),
    );
    expect(items.map((m) => m.text)).toEqual(texts);
    expect(pages).toBe(3);
    expect(items[1]).toMatchObject({
      role: "assistant",
      model: "claude",
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
    });
    const users = await messages.list(listMessagesInput.parse({ sessionId, role: "user" }));
    expect(users.items.map((m) => m.text)).toEqual(["hello", "fix the bug", "thanks"]);
    expect(users.nextCursor).toBeNull();
  });

  it("keeps append order for messages given the same timestamp", async () => {
    const sessionId = await newSession(db.knex);
    const createdAt = "2026-03-01T10:00:00.000Z";
    for (const text of ["a", "b", "c", "d"]) await messages.append({ sessionId, role: "user", text, createdAt });
    const { items } = await allPages((cursor) => messages.list({ sessionId, limit: 1, ...(cursor ? { cursor } : {}) }));
    expect(items.map((m) => m.text)).toEqual(["a", "b", "c", "d"]);
    expect(items.every((m) => m.createdAt === createdAt)).toBe(true);
  });

  it("pages exactly through messages microseconds apart", async () => {
    const sessionId = await newSession(db.knex);
    await db.knex.raw(
      `INSERT INTO session_messages (session_id, role, text, created_at)
       SELECT ?, 'user', 'm' || g, timestamptz '2026-03-01T10:00:00.000100Z' + (10 - g) * interval '1 microsecond'
       FROM generate_series(1, 6) g`,
      [sessionId],
    );
    const { items } = await allPages((cursor) => messages.list({ sessionId, limit: 2, ...(cursor ? { cursor } : {}) }));
    expect(items.map((m) => m.text)).toEqual(["m6", "m5", "m4", "m3", "m2", "m1"]);
  });

  it("stores token counts and ids given", async () => {
    const sessionId = await newSession(db.knex);
    const message = await messages.append({
      sessionId,
      role: "assistant",
      text: "ok",
      externalMessageId: "msg_1",
      claudeSessionId: "c-1",
      inputTokens: 12,
      outputTokens: 34,
    });
    expect(message).toMatchObject({
      externalMessageId: "msg_1",
      claudeSessionId: "c-1",
      inputTokens: 12,
      outputTokens: 34,
      sourceEventId: null,
    });
    const duplicate = await rejection(
      messages.append({ sessionId, role: "assistant", text: "again", externalMessageId: "msg_1" }),
    );
    expect(duplicate).toMatchObject({ code: "CONFLICT" });
    expect(duplicate.message).toContain("external id msg_1");
  });

  it("refuses an unknown session, naming it", async () => {
    const unknown = await rejection(messages.append({ sessionId: NO_SUCH_ID, role: "user", text: "x" }));
    expect(unknown).toMatchObject({ code: "NOT_FOUND", message: `session ${NO_SUCH_ID} was not found` });
    const listUnknown = await rejection(messages.list(listMessagesInput.parse({ sessionId: NO_SUCH_ID })));
    expect(listUnknown.code).toBe("NOT_FOUND");
    const sessionId = await newSession(db.knex);
    expect((await messages.list(listMessagesInput.parse({ sessionId }))).items).toEqual([]);
  });
});
