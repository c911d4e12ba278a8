import { STATUS_CODES, type Server } from "node:http";
import type { Duplex } from "node:stream";

import { DRAIN_LIMIT_BYTES } from "./body.js";

/** How long a refused connection may go on sending before it is cut. */
export const CLIENT_ERROR_DRAIN_MS = 10_000;

/** The answer to a request Node's parser refused, by its error code. */
function describe(code: string | undefined): { status: number; code: string; message: string } {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return {
        status: 431,
        code: "HEADERS_TOO_LARGE",
        message:
          "the request line and headers are over the server's limit (16 KB): send a large input in a POST body, not in the URL",
      };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, code: "TIMEOUT", message: "the request did not arrive in time" };
    default:
      return { status: 400, code: "BAD_REQUEST", message: "the request is not valid HTTP/1.1" };
  }
}

const answered = new WeakSet<Duplex>();

/**
 * Answers requests that Node's HTTP parser refuses before any handler sees them, such as
 * headers over `maxHeaderSize` (a GET query with a huge `?input=`).
 *
 * Node's default writes the status line and destroys the socket at once. A client still
 * sending its request then reads a connection reset instead of the answer, because the
 * kernel resets a socket closed with unread data. Here the JSON answer is written and the
 * connection half-closed. Whatever the client still sends is read and dropped: Node's
 * failed parser keeps consuming it and reports each chunk here again, and this handler
 * ignores the repeats. After DRAIN_LIMIT_BYTES or CLIENT_ERROR_DRAIN_MS the socket is cut.
 */
export function answerClientErrors(server: Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (answered.has(socket)) return;
    answered.add(socket);
    // As Node's own default does: a response already under way on this connection (a
    // pipelined request before the bad one) must not get our bytes in the middle of it.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const { status, code, message } = describe(error.code);
    const body = JSON.stringify({ error: { code, httpStatus: status, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    let drained = 0;
    const cut = setTimeout(() => socket.destroy(), CLIENT_ERROR_DRAIN_MS);
    cut.unref();
    socket.on("data", (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_LIMIT_BYTES) socket.destroy();
    });
    socket.once("close", () => clearTimeout(cut));
  });
}
