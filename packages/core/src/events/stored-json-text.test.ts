/**
 * Payloads written as jsonb's text (`listForSession(…, { payloadText: true })` and
 * `stringifyJson`, what the server's plain GET path does) give the bytes `JSON.stringify`
 * of the parsed payloads gives: checked against PostgreSQL's own output, not a copy of it.
 */
import { compactJsonbText, eventPage, ingestEventsInput, stringifyJson } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { SessionService } from "../sessions/session-service.js";
import { EventService } from "./event-service.js";

/** JSON texts as clients send them, passed through as jsonb writes them. */
const PASSED = [
  `{}`,
  `{"a":null,"b":true,"c":false,"d":[],"e":{},"f":[null,[],{}]}`,
  `{"text":"é ünïcode 😀 中文 \\u2028 \\u001f \\u007f tab\\t nl\\n cr\\r bs\\b ff\\f quote\\" backslash\\\\ slash\\/ \\\\\\""}`,
  `{"key with spaces":"a, b: c","[{":"}]","\\"quoted\\" key":1}`,
  `{"nested":{"deeper":{"list":[1,-2,3.5,-0.25,{"x":[{"y":"z"}]}]}},"n":0}`,
  `{"small":0.000001,"tiny":0.0000012,"int":123456789012345,"neg":-987654321,"pi":3.14159265358979}`,
  `{"__proto__":{"polluted":true},"constructor":"c"}`,
  `{"tool_input":{"command":"pnpm test","description":"a, b: c"},"tool_response":{"content":"x  y   z"}}`,
];
/** Written otherwise by JavaScript (numbers, keys it puts first): the parse must decide. */
const PARSED = [
  `{"money":1.50}`,
  `{"big":12345678901234567890}`,
  `{"exp":1e21,"neg":-1E-7,"e2":2e2}`,
  `{"sixteen":1234567890123456}`,
  `{"b":1,"10":2,"2":3,"a":4}`,
  `{"list":[{"9":"digit key deep inside"}]}`,
];

describe("compactJsonbText against PostgreSQL's jsonb output", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.destroy());

  async function jsonbText(text: string): Promise<string> {
    const result = await db.knex.raw<{ rows: Array<{ out: string }> }>("SELECT ?::jsonb::text AS out", [text]);
    const out = result.rows[0]?.out;
    if (out === undefined) throw new Error("no row");
    return out;
  }

  it("gives JSON.stringify of the parsed text, or null (then the parse writes it)", async () => {
    let passedThrough = 0;
    for (const text of [...PASSED, ...PARSED, `{"minusZero":-0}`]) {
      const stored = await jsonbText(text);
      const compact = compactJsonbText(stored);
      if (compact !== null) {
        passedThrough++;
        expect(compact, stored).toBe(JSON.stringify(JSON.parse(stored)));
      }
    }
    // The fast path is taken, not only the fallback.
    expect(passedThrough).toBeGreaterThanOrEqual(PASSED.length);
  });

  it("passes through what clients send, leaves to the parse what JavaScript writes otherwise", async () => {
    for (const text of PASSED) expect(compactJsonbText(await jsonbText(text)), text).not.toBeNull();
    for (const text of PARSED) expect(compactJsonbText(await jsonbText(text)), text).toBeNull();
    // Not an object: never passed through.
    expect(compactJsonbText(await jsonbText(`[1, 2]`))).toBeNull();
  });
});

describe("a timeline page with its payloads as text", () => {
  let db: TestDatabase;
  let events: EventService;
  let sessionId: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    sessionId = (await new SessionService({ knex: db.knex }).create({ title: "payload text" })).id;
    await events.ingest(
      ingestEventsInput.parse({
        events: [...PASSED, ...PARSED].map((text, i) => ({
          sessionId,
          eventType: i % 2 === 0 ? "tool" : "message",
          payload: JSON.parse(text) as Record<string, unknown>,
        })),
      }),
    );
    // Numbers no JSON.parse keeps (the SDK could not send them): stored as jsonb keeps them.
    await db.knex.raw(`UPDATE events SET payload = ?::jsonb WHERE session_id = ? AND seq = 1`, [
      `{"money": 1.50, "big": 12345678901234567890, "10": 1, "a": 2}`,
      sessionId,
    ]);
  });
  afterAll(async () => db.destroy());

  it("is written byte for byte as the page with parsed payloads, filtered or not", async () => {
    for (const input of [
      { sessionId, limit: 200 },
      { sessionId, limit: 5, afterSeq: 3 },
      { sessionId, limit: 200, eventTypes: ["tool"] },
    ]) {
      const parsed = eventPage.parse(await events.listForSession(input));
      const asText = eventPage.parse(await events.listForSession(input, { payloadText: true }));
      expect(stringifyJson(asText)).toBe(JSON.stringify(parsed));
      // Any other writer gets the parsed objects too.
      expect(JSON.stringify(asText)).toBe(JSON.stringify(parsed));
    }
  });
});
