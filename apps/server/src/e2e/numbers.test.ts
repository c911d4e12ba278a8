/**
 * Values are never changed silently: a number JSON cannot hold exactly here is refused
 * naming the event and field (it used to be stored as null, or rounded); a token count
 * that cannot be counted names its event (it failed the whole batch anonymously); a NUL
 * in a hook's session_id is refused like everywhere else (it was stored, and then
 * `sessions.get` could not name it).
 */
import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

const headers = () => ({ authorization: `Bearer ${h.server.apiKey}`, "content-type": "application/json" });

async function eventCount(): Promise<number> {
  return Number(expectDefined((await h.db.knex("events").count({ n: "*" }))[0]).n);
}

describe("numbers that cannot be kept exactly", () => {
  it.each(["1e400", "12345678901234567890", "0.12345678901234567890123"])(
    "events.ingest refuses %s naming the event and the field, and writes nothing",
    async (number) => {
      const before = await eventCount();
      const event = (value: string) =>
        `{"externalSessionId":"n-${randomUUID()}","eventType":"note","payload":{"usage":{"big":${value}}}}`;
      const response = await fetch(`${h.server.url}/trpc/events.ingest`, {
        method: "POST",
        headers: headers(),
        body: `{"events":[${event("1")},${event(number)}]}`,
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { message: string; data: { details: unknown } } };
      expect(body.error.message).toBe(
        `events[1].payload.usage.big: the number ${number} cannot be stored exactly (JSON numbers here are 64-bit floating point); send it as a string`,
      );
      expect(body.error.data.details).toEqual({ field: "events[1].payload.usage.big", number });
      expect(await eventCount()).toBe(before);
    },
  );

  it("in a batch, names the call too; exact numbers (0.1, 1e21, 2^53) are stored as sent", async () => {
    const externalSessionId = `exact-${randomUUID()}`;
    const call = (value: string) =>
      `{"events":[{"externalSessionId":"${externalSessionId}","eventType":"note","payload":{"v":${value}}}]}`;
    const refused = await fetch(`${h.server.url}/trpc/events.ingest,events.ingest?batch=1`, {
      method: "POST",
      headers: headers(),
      body: `{"0":${call("1")},"1":${call("-1e-400")}}`,
    });
    expect(refused.status).toBe(400);
    const items = (await refused.json()) as Array<{ error: { message: string } }>;
    expect(expectDefined(items[0]).error.message).toMatch(
      /^call 1: events\[0\]\.payload\.v: the number -1e-400 cannot be stored/,
    );

    const stored = await h.client.ingest([
      { externalSessionId, eventType: "note", payload: { a: 0.1, b: 1e21, c: 9007199254740992, d: -2.5 } },
    ]);
    const event = await h.client.events.get.query({ id: expectDefined(stored.ids[0]) });
    expect(event.payload).toEqual({ a: 0.1, b: 1e21, c: 9007199254740992, d: -2.5 });
  });

  it("POST /hooks/claude-code refuses one too, naming the field", async () => {
    const response = await fetch(`${h.server.url}/hooks/claude-code`, {
      method: "POST",
      headers: headers(),
      body: `{"session_id":"hook-${randomUUID()}","hook_event_name":"PostToolUse","tool_response":{"bytes":1e999}}`,
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/^tool_response\.bytes: the number 1e999 cannot be stored exactly/);
  });
});

describe("token counts that cannot be counted", () => {
  it("are refused naming the event and the field, not as an anonymous 400 for the batch", async () => {
    const externalSessionId = `tokens-${randomUUID()}`;
    const line = (id: string, tokens: number) => ({
      externalSessionId,
      eventType: "assistant",
      source: "transcript" as const,
      payload: { type: "assistant", message: { id, role: "assistant", usage: { output_tokens: tokens } } },
    });
    const error = await h.client.events.ingest
      .mutate({ events: [line("m1", 10), line("m2", 20), line("m3", 1e15)] })
      .catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe(
      "events[2].payload.message.usage.output_tokens: 1000000000000000 is not a token count (a whole number from 0 to 1000000000000)",
    );
  });
});

describe("a NUL in a hook's session_id", () => {
  it("is refused at ingest, as sessions.get refuses it, so no session exists that cannot be named", async () => {
    const sessionId = `nul-${randomUUID()}\u0000x`;
    const response = await fetch(`${h.server.url}/hooks/claude-code`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ session_id: sessionId, hook_event_name: "SessionStart" }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      /session_id: must not contain NUL characters/,
    );
    const get = await h.client.sessions.get.query({ externalId: sessionId }).catch((e: unknown) => e as Error);
    expect((get as Error).message).toMatch(/must not contain NUL characters/);
    const stored = await h.db.knex("sessions").where("external_id", "like", `${sessionId.slice(0, 40)}%`);
    expect(stored).toEqual([]);
  });
});
