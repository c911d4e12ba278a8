/**
 * The limits a hostile client meets, through the real server: batch size (calls, and
 * events across ingest calls) and the throttle on failed authentications.
 */
import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { startTestServer } from "../testing/index.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  // A small throttle so the test needs few requests; the batch limits are the defaults.
  h = await startHarness({ env: THROTTLE_ENV });
});
afterAll(() => h?.stop());

const auth = () => ({ authorization: `Bearer ${h.server.apiKey}` });
// A verified key is remembered for 10 minutes: the test's own key stays "no guess" throughout.
const THROTTLE_ENV = { AUTH_FAILURE_LIMIT: "5", AUTH_FAILURE_WINDOW_MS: "600000", API_KEY_CACHE_MS: "600000" };

/** The status of `auth.whoami` on `url` with `key`. */
async function whoamiStatus(url: string, key: string): Promise<number> {
  const response = await fetch(`${url}/trpc/auth.whoami`, { headers: { authorization: `Bearer ${key}` } });
  await response.arrayBuffer();
  return response.status;
}

interface ErrorItem {
  error: { message: string; data: { httpStatus: number; code: string } };
}

describe("batch limits", () => {
  it("refuses a batch of more calls than MAX_BATCH_CALLS (50) with a 413 that names the limit", async () => {
    const paths = Array.from({ length: 51 }, () => "stats.overview").join(",");
    const response = await fetch(`${h.server.url}/trpc/${paths}?batch=1&input={}`, { headers: auth() });
    expect(response.status).toBe(413);
    const body = (await response.json()) as ErrorItem[];
    expect(expectDefined(body[0]).error.message).toMatch(/at most 50 calls \(MAX_BATCH_CALLS\); this one holds 51/);

    const fifty = Array.from({ length: 50 }, () => "stats.overview").join(",");
    expect((await fetch(`${h.server.url}/trpc/${fifty}?batch=1&input={}`, { headers: auth() })).status).toBe(200);
  });

  it("refuses a batch carrying more than MAX_BATCH_EVENTS (5,000) events across its ingest calls, writing none", async () => {
    const externalSessionId = `batch-${randomUUID()}`;
    const call = () => ({
      events: Array.from({ length: 1000 }, () => ({ id: randomUUID(), externalSessionId, eventType: "note" })),
    });
    const input = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [String(i), call()]));
    const response = await fetch(`${h.server.url}/trpc/${Array(6).fill("events.ingest").join(",")}?batch=1`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/json" },
      body: JSON.stringify(input),
    });
    expect(response.status).toBe(413);
    const body = (await response.json()) as ErrorItem[];
    expect(expectDefined(body[0]).error.message).toMatch(
      /at most 5000 events .*\(MAX_BATCH_EVENTS\); this one carries 6000/,
    );
    const stored = await h.db.knex("sessions").where({ external_id: externalSessionId }).count({ n: "*" });
    expect(Number(expectDefined(stored[0]).n)).toBe(0);
  });
});

describe("failed authentications", () => {
  it("hold an address up with 429 and Retry-After past AUTH_FAILURE_LIMIT, log each at warn without the key", async () => {
    expect(await whoamiStatus(h.server.url, h.server.apiKey)).toBe(200); // verified: remembered
    const wrong = `${h.server.apiKey.slice(0, -4)}zzzz`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${h.server.url}/trpc/auth.whoami`, {
        headers: { authorization: `Bearer ${wrong}` },
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401]);

    // Held up now for any key that does not verify (another wrong one, a malformed header),
    // through tRPC and the hook endpoint alike; a valid key still passes, even one never
    // used before (the owner's CLI must not be locked out by a stranger on the machine).
    const otherWrong = `${h.server.apiKey.slice(0, -4)}xxxx`;
    const held = await fetch(`${h.server.url}/trpc/auth.whoami`, {
      headers: { authorization: `Bearer ${otherWrong}` },
    });
    expect(held.status).toBe(429);
    const fresh = await h.server.createKey(["read"], "never-used");
    expect(await whoamiStatus(h.server.url, fresh)).toBe(200);
    expect(await whoamiStatus(h.server.url, "malformed")).toBe(429);
    const retryAfter = Number(held.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
    const body = (await held.json()) as ErrorItem;
    expect(body.error.message).toMatch(/too many failed authentications/);
    const hook = await fetch(`${h.server.url}/hooks/claude-code`, {
      method: "POST",
      headers: { authorization: `Bearer ${wrong}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(hook.status).toBe(429);
    expect(Number(hook.headers.get("retry-after"))).toBeGreaterThan(0);

    expect(await whoamiStatus(h.server.url, h.server.apiKey)).toBe(200);

    const warnings = h.server.logs().filter((line) => line.includes("failed authentication"));
    expect(warnings.length).toBeGreaterThanOrEqual(5);
    for (const line of warnings) {
      expect(JSON.parse(line)).toMatchObject({ level: 40, address: expect.any(String) as string });
      expect(line).not.toContain(wrong.slice(-12));
    }
  });

  it("are counted across replicas: failures spread over two servers on one database hold the address up on both", async () => {
    await h.db.knex("auth_failures").delete(); // the test before held this address up
    const other = await startTestServer({ databaseUrl: h.db.url, env: THROTTLE_ENV });
    try {
      const wrong = `${h.server.apiKey.slice(0, -4)}yyyy`;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push(await whoamiStatus(h.server.url, wrong));
      for (let i = 0; i < 2; i++) statuses.push(await whoamiStatus(other.url, wrong));
      expect(statuses).toEqual([401, 401, 401, 401, 401]);
      // Five in all (the limit), though neither server saw five: both hold the address up.
      const guess = `${h.server.apiKey.slice(0, -4)}wwww`;
      expect(await whoamiStatus(other.url, guess)).toBe(429);
      expect(await whoamiStatus(h.server.url, guess)).toBe(429);
      const failures = await h.db.knex("auth_failures").sum<Array<{ n: number }>>({ n: "failures" });
      expect(Number(failures[0]?.n)).toBe(5); // refusals while held up are not counted
    } finally {
      await other.stop();
    }
  });
});
