import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

import { blockedLiteral, guardedLookup } from "./address-guard.js";

/** What one try at a receiver came to. */
export interface SendOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
  durationMs: number;
}

/** The receiver's answer is kept only this far: enough to tell what it said, never a whole page. */
const EXCERPT_CHARS = 512;

/**
 * POSTs `body` once. No redirect is followed (a 3xx is a failure: following one would let a
 * receiver point us at an internal address), the socket connects only to addresses that
 * pass the guard, and the whole exchange is bounded by `timeoutMs`. A 2xx is success.
 */
export function sendWebhook(options: {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivate: boolean;
}): Promise<SendOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(options.url);
  const literal = blockedLiteral(url, options.allowPrivate);
  if (literal) {
    return Promise.resolve({
      ok: false,
      statusCode: null,
      error: `${literal} is not a public address: not delivered`,
      responseExcerpt: null,
      durationMs: elapsed(),
    });
  }
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<SendOutcome, "durationMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...outcome, durationMs: elapsed() });
    };
    const req = request(
      url,
      {
        method: "POST",
        headers: { ...options.headers, "content-length": Buffer.byteLength(options.body).toString() },
        lookup: guardedLookup(options.allowPrivate),
        // One connection per delivery: a pooled socket would skip the address check.
        agent: false,
      },
      (res) => {
        const statusCode = res.statusCode ?? 0;
        let excerpt = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (excerpt.length < EXCERPT_CHARS) excerpt += chunk;
          // Enough read: the rest of a large answer is not our business.
          if (excerpt.length >= EXCERPT_CHARS) res.destroy();
        });
        const done = () => {
          const ok = statusCode >= 200 && statusCode < 300;
          const redirect = statusCode >= 300 && statusCode < 400;
          finish({
            ok,
            statusCode,
            error: ok
              ? null
              : redirect
                ? `the receiver answered ${statusCode} (a redirect, not followed)`
                : `the receiver answered ${statusCode}`,
            responseExcerpt: excerpt === "" ? null : excerpt.slice(0, EXCERPT_CHARS),
          });
        };
        res.on("end", done);
        res.on("close", done);
        res.on("error", done);
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, statusCode: null, error: `no answer within ${options.timeoutMs} ms`, responseExcerpt: null });
      req.destroy();
    }, options.timeoutMs);
    req.on("error", (error) =>
      finish({ ok: false, statusCode: null, error: error.message || String(error), responseExcerpt: null }),
    );
    req.end(options.body);
  });
}
