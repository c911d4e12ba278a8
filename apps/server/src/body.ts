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
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit));
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
