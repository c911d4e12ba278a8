import type { IncomingMessage } from "node:http";

export class BodyTooLargeError extends Error {
  /**
   * @param drained whether the rest of the body was read (and thrown away), so the
   * connection can carry the answer and stay open; when false the caller must close it.
   */
  constructor(
    readonly limit: number,
    readonly drained = true,
  ) {
    super(`the request body is larger than the limit of ${limit} bytes`);
  }
}

/**
 * Past the limit, a streamed (chunked) body is still read, and thrown away, up to this
 * many more bytes: a client that is still sending when we answer would otherwise hit a
 * reset (EPIPE/ECONNRESET) instead of reading our 413. Beyond it we stop reading and
 * close the connection.
 */
export const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

/** Whether the request's Content-Length announces a body over `limit` bytes (refused unread). */
export function declaresMoreThan(req: IncomingMessage, limit: number): boolean {
  const declared = Number(req.headers["content-length"]);
  return Number.isFinite(declared) && declared > limit;
}

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is
 * refused before reading (Node reads and drops the body after the answer). A body that
 * grows past the limit while streaming is drained (see DRAIN_LIMIT_BYTES), then refused.
 *
 * The request is never destroyed here: destroying it would drop the socket under a
 * keep-alive client, whose next request on that connection would then fail with
 * ECONNRESET.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (declaresMoreThan(req, limit)) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (!over && size > limit) {
        over = true;
        chunks = [];
      }
      if (!over) chunks.push(chunk);
      else if (size > limit + DRAIN_LIMIT_BYTES) {
        cleanup();
        req.pause();
        reject(new BodyTooLargeError(limit, false));
      }
    };
    const onEnd = () => {
      cleanup();
      if (over) reject(new BodyTooLargeError(limit));
      else resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
  });
}

/**
 * The request-body bytes this server holds at once, across requests. Each request with a
 * body reserves its declared Content-Length (a chunked one the whole BODY_LIMIT_BYTES)
 * before it is read and gives it back when its response closes; a request that does not
 * fit gets 503 with Retry-After, its body read and thrown away. Without it, 20 concurrent
 * 7.9 MiB posts took the server to ~1 GiB and 100 to 2.8 GiB. One request is always
 * admitted when nothing else is in flight, so a budget below the body limit cannot stall.
 */
export class BodyBudget {
  private inFlight = 0;

  constructor(readonly limitBytes: number) {}

  /** Reserves `bytes`; returns the release function, or null when they do not fit now. */
  tryReserve(bytes: number): (() => void) | null {
    if (bytes <= 0) return () => undefined;
    if (this.inFlight > 0 && this.inFlight + bytes > this.limitBytes) return null;
    this.inFlight += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= bytes;
    };
  }

  get bytesInFlight(): number {
    return this.inFlight;
  }
}

/** What a request with a body reserves: its declared length, else (chunked) the whole limit. */
export function bodyReservation(req: IncomingMessage, bodyLimitBytes: number): number {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return 0;
  const declared = Number(req.headers["content-length"]);
  if (req.headers["content-length"] !== undefined && Number.isFinite(declared)) {
    // Over the limit: refused with 413 before it is read, so it holds nothing.
    return declared > bodyLimitBytes ? 0 : declared;
  }
  return req.headers["transfer-encoding"] === undefined ? 0 : bodyLimitBytes;
}

/**
 * Reads a body only to throw it away, so a refusal can be answered once the client has
 * finished sending (it reads the answer, not a reset). Resolves true when the body ended,
 * false when it went past `maxBytes` (reading stops: close the connection after the answer)
 * or the request failed.
 */
export function discardBody(req: IncomingMessage, maxBytes: number): Promise<boolean> {
  if (req.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    let size = 0;
    const finish = (drained: boolean) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onError = () => finish(false);
    const onClose = () => finish(req.readableEnded);
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    req.once("close", onClose);
  });
}
