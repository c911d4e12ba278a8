/**
 * The receiving side of Logbook's outbound webhooks (docs/webhooks.md). Web Crypto only, so
 * it runs in Node 20+, Deno, Bun, edge runtimes and browsers alike.
 */

/** A delivery's headers; the same names as `WEBHOOK_HEADERS` in @logbook/contracts (a test keeps them equal). */
export const WEBHOOK_SIGNATURE_HEADERS = {
  id: "logbook-webhook-id",
  event: "logbook-webhook-event",
  timestamp: "logbook-webhook-timestamp",
  signature: "logbook-webhook-signature",
} as const;

export interface VerifyWebhookOptions {
  /** The raw request body exactly as received, before any JSON parsing: the signature covers these bytes. */
  body: string | Uint8Array;
  /** The request's headers: a `Headers`, or Node's `req.headers`. */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The subscription's secret (`whsec_…`), as `webhooks.create` returned it. */
  secret: string;
  /**
   * How far the delivery's timestamp may be from now, either way, in seconds. An older one is
   * refused, so a captured request cannot be replayed later. @default 300
   */
  toleranceSeconds?: number;
  /** The clock, in milliseconds. @default Date.now */
  now?: () => number;
}

export type WebhookVerification =
  { ok: true; id: string; event: string; timestamp: number } | { ok: false; reason: string };

function header(headers: VerifyWebhookOptions["headers"], name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const value = record[name] ?? Object.entries(record).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

function hexBytes(hex: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * Checks a delivery: its timestamp is recent, and one of the `v1=` signatures in the
 * signature header is the HMAC-SHA256 of `<timestamp>.<body>` under `secret`. The
 * comparison is Web Crypto's own `verify` (constant time). Answer 2xx only when `ok`;
 * drop duplicates by `id` (a retried delivery keeps its id).
 */
export async function verifyWebhookSignature(options: VerifyWebhookOptions): Promise<WebhookVerification> {
  const names = WEBHOOK_SIGNATURE_HEADERS;
  const timestampText = header(options.headers, names.timestamp);
  const signatureText = header(options.headers, names.signature);
  const id = header(options.headers, names.id);
  const event = header(options.headers, names.event);
  if (!timestampText || !signatureText || !id || !event) {
    return { ok: false, reason: "missing Logbook-Webhook-Id, -Event, -Timestamp or -Signature header" };
  }
  if (!/^\d{1,12}$/.test(timestampText)) return { ok: false, reason: "the timestamp is not Unix seconds" };
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = (options.now ?? Date.now)() / 1000;
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    return { ok: false, reason: `the timestamp is more than ${tolerance} seconds away from now` };
  }
  const encoder = new TextEncoder();
  const body = typeof options.body === "string" ? encoder.encode(options.body) : options.body;
  const signed = new Uint8Array(timestampText.length + 1 + body.length);
  signed.set(encoder.encode(`${timestampText}.`), 0);
  signed.set(body, timestampText.length + 1);
  const key = await globalThis.crypto.subtle.importKey(
    "raw",
    encoder.encode(options.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  for (const part of signatureText.split(",")) {
    const [scheme, value] = part.trim().split("=", 2);
    const bytes = scheme === "v1" && value ? hexBytes(value) : null;
    if (bytes && bytes.length === 32 && (await globalThis.crypto.subtle.verify("HMAC", key, bytes, signed))) {
      return { ok: true, id, event, timestamp };
    }
  }
  return { ok: false, reason: "no signature matches: wrong secret, or the body was changed" };
}
