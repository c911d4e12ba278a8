import type { ServerResponse } from "node:http";

import { describeError, retryAfterSeconds, toHttpErrorBody, type DescribedError } from "@logbook/api";

import type { Logger } from "./logger.js";

/** A JSON answer with its length declared (no chunked encoding for small bodies). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * An error on a plain (non-tRPC) route, in the API's one error shape (`{ error: { message,
 * code, httpStatus, appCode?, details?, issues? } }`, the fields of tRPC's `data`). Internal
 * errors are logged with their cause; the client gets the generic message.
 */
export function sendError(res: ServerResponse, error: unknown, logger: Logger, route: string): void {
  const described = describeError(error);
  if (described.internal) logger.error({ err: described.cause, route }, "internal error");
  const retryAfter = retryAfterSeconds(error);
  if (retryAfter !== undefined) res.setHeader("retry-after", String(retryAfter));
  sendJson(res, described.httpStatus, toHttpErrorBody(described));
}

/** A refusal with no error behind it (no such route, wrong method), in the same shape. */
export function sendRefusal(
  res: ServerResponse,
  refusal: Pick<DescribedError, "code" | "httpStatus" | "message">,
): void {
  sendJson(res, refusal.httpStatus, toHttpErrorBody({ ...refusal, internal: false, cause: null }));
}
