import { createHmac } from "node:crypto";

import { WEBHOOK_HEADERS } from "@logbook/contracts";
import { describe, expect, it } from "vitest";

import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADERS } from "./webhooks.js";

const secret = "whsec_test-secret";
const body = JSON.stringify({ id: "d1", event: "session.completed" });
const now = 1_800_000_000_000;

function headersFor(timestamp: number, signedBody = body, key = secret): Record<string, string> {
  const mac = createHmac("sha256", key).update(`${timestamp}.${signedBody}`).digest("hex");
  return {
    "logbook-webhook-id": "d1",
    "logbook-webhook-event": "session.completed",
    "logbook-webhook-timestamp": String(timestamp),
    "logbook-webhook-signature": `v1=${mac}`,
  };
}

describe("verifyWebhookSignature", () => {
  const fresh = now / 1000 - 10;

  it("accepts a delivery signed with the secret, from Node headers or a Headers", async () => {
    expect(await verifyWebhookSignature({ body, headers: headersFor(fresh), secret, now: () => now })).toEqual({
      ok: true,
      id: "d1",
      event: "session.completed",
      timestamp: fresh,
    });
    const headers = new Headers(headersFor(fresh));
    const bytes = new TextEncoder().encode(body);
    expect((await verifyWebhookSignature({ body: bytes, headers, secret, now: () => now })).ok).toBe(true);
  });

  it("refuses a changed body, another secret, an old timestamp and missing headers", async () => {
    const verify = (options: { body?: string; headers: Record<string, string> }) =>
      verifyWebhookSignature({ body: options.body ?? body, headers: options.headers, secret, now: () => now });
    expect(await verify({ body: `${body} `, headers: headersFor(fresh) })).toEqual({
      ok: false,
      reason: "no signature matches: wrong secret, or the body was changed",
    });
    expect((await verify({ headers: headersFor(fresh, body, "whsec_other") })).ok).toBe(false);
    expect(await verify({ headers: headersFor(fresh - 600) })).toMatchObject({
      ok: false,
      reason: "the timestamp is more than 300 seconds away from now",
    });
    const { "logbook-webhook-signature": _dropped, ...unsigned } = headersFor(fresh);
    expect((await verify({ headers: unsigned })).ok).toBe(false);
  });

  it("uses the header names the server sends", () => {
    expect(WEBHOOK_SIGNATURE_HEADERS).toEqual(WEBHOOK_HEADERS);
  });
});
