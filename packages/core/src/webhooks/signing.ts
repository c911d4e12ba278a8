import { createHmac, randomBytes } from "node:crypto";

/** A new signing secret: 32 random bytes, prefixed so it is recognisable in a config file. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

/**
 * The signature header's value: `v1=` and the hex HMAC-SHA256, keyed by the secret, of
 * `<timestamp>.<body>`. The timestamp (Unix seconds) is inside the signed text, so a
 * receiver that rejects old timestamps also rejects a replayed request. The SDK's
 * `verifyWebhookSignature` is the receiving side.
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}
