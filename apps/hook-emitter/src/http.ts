/**
 * A tiny HTTP/1.1 client over `node:net`. The hot path pays for every module it loads, and
 * `node:http` (or fetch/undici) costs more to load than the whole request to a local server;
 * plain `http:` is spoken here, `https:` goes through `node:https`, loaded only when used.
 */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A request that got no HTTP answer: refused, reset, timed out, bad URL. */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** The connection failed while the body was being sent (after the server accepted it). */
    readonly duringUpload = false,
  ) {
    super(message);
    this.name = "NetworkError";
  }
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Whole-request budget: connect, send, answer. */
  timeoutMs: number;
}

const BODY_SLICE = 64 * 1024;
/** Bodies above this are announced with `Expect: 100-continue` (see below). */
export const EXPECT_CONTINUE_BYTES = 1024 * 1024;
/** After a 100 Continue, how long to give the server to refuse anyway (it may send both at once). */
const CONTINUE_GRACE_MS = 50;
/** A server that does not answer the Expect header gets the body after this (RFC 9110). */
const CONTINUE_WAIT_MS = 1_000;

export async function httpRequest(method: string, target: string, options: RequestOptions): Promise<HttpResponse> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new NetworkError(`invalid URL: ${target}`, "EINVALIDURL");
  }
  if (url.protocol === "https:") return httpsRequest(method, url, options);
  if (url.protocol !== "http:") throw new NetworkError(`unsupported URL scheme: ${url.protocol}`, "EINVALIDURL");
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === "string"
        ? Buffer.from(options.body)
        : options.body;
  // A server refusing a large body (413) closes the connection while the body is still coming;
  // the TCP reset that follows can destroy its answer before we read it. So a large body is
  // announced first and sent only once the server has not refused it.
  const expectContinue = payload !== undefined && payload.length > EXPECT_CONTINUE_BYTES;
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) head += `${name}: ${value}\r\n`;
  if (payload !== undefined) head += `Content-Length: ${payload.length}\r\n`;
  if (expectContinue) head += "Expect: 100-continue\r\n";
  head += "\r\n";
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? 80 : Number(url.port);

  // Loaded here, not at start: a hook that only spools never needs it.
  const { connect } = await import("node:net");
  return new Promise<HttpResponse>((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let settled = false;
    let uploading = false;
    let continueTimer: NodeJS.Timeout | undefined;
    const finish = (outcome: HttpResponse | NetworkError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(continueTimer);
      socket.destroy();
      if (outcome instanceof NetworkError) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(
      () => finish(new NetworkError(`no answer from ${url.origin} within ${options.timeoutMs} ms`, "ETIMEDOUT")),
      options.timeoutMs,
    );
    const drained = () =>
      new Promise<void>((done) => {
        const go = () => {
          socket.off("drain", go);
          socket.off("close", go);
          done();
        };
        socket.on("drain", go);
        socket.on("close", go);
      });
    const sendBody = async () => {
      if (uploading || settled || payload === undefined) return;
      uploading = true;
      clearTimeout(continueTimer);
      // In slices, yielding between them, so an answer that comes early is read early.
      for (let offset = 0; offset < payload.length; offset += BODY_SLICE) {
        if (settled || socket.destroyed) return;
        if (!socket.write(payload.subarray(offset, offset + BODY_SLICE))) await drained();
      }
    };
    socket.on("connect", () => {
      const headBuffer = Buffer.from(head, "latin1");
      if (payload !== undefined && !expectContinue) {
        uploading = true;
        socket.write(Buffer.concat([headBuffer, payload]));
        return;
      }
      socket.write(headBuffer);
      if (expectContinue) continueTimer = setTimeout(() => void sendBody(), CONTINUE_WAIT_MS);
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const data = Buffer.concat(chunks);
      const response = parseResponse(data, false);
      if (response) finish(response);
      else if (expectContinue && !uploading && /^HTTP\/1\.\d 100 /.test(data.subarray(0, 13).toString("latin1"))) {
        clearTimeout(continueTimer);
        continueTimer = setTimeout(() => void sendBody(), CONTINUE_GRACE_MS);
      }
    });
    socket.on("end", () => {
      const response = parseResponse(Buffer.concat(chunks), true);
      if (response) finish(response);
      else
        finish(
          new NetworkError(`connection to ${url.origin} closed before a complete answer`, "ECONNRESET", uploading),
        );
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      // A server that answers and then resets (e.g. it refused a large body) still answered.
      const response = parseResponse(Buffer.concat(chunks), true);
      if (response) finish(response);
      else
        finish(
          new NetworkError(`${url.origin}: ${error.message}`, error.code ?? "EIO", uploading && payload !== undefined),
        );
    });
  });
}

/** A complete response in `data`, or undefined while more is needed. */
export function parseResponse(data: Buffer, atEnd: boolean): HttpResponse | undefined {
  const headerEnd = data.indexOf("\r\n\r\n");
  if (headerEnd < 0) return undefined;
  const lines = data.subarray(0, headerEnd).toString("latin1").split("\r\n");
  const statusMatch = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(lines[0] ?? "");
  if (!statusMatch) return atEnd ? { status: 0, headers: {}, body: "" } : undefined;
  const status = Number(statusMatch[1]);
  if (status >= 100 && status < 200) return parseResponse(data.subarray(headerEnd + 4), atEnd);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(headerEnd + 4);
  if (status === 204 || status === 304) return { status, headers, body: "" };
  if ((headers["transfer-encoding"] ?? "").toLowerCase().includes("chunked")) {
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const lineEnd = rest.indexOf("\r\n", offset);
      if (lineEnd < 0) return undefined;
      const size = parseInt(rest.subarray(offset, lineEnd).toString("latin1"), 16);
      if (Number.isNaN(size)) return { status, headers, body: Buffer.concat(parts).toString("utf8") };
      if (size === 0) return { status, headers, body: Buffer.concat(parts).toString("utf8") };
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      offset = lineEnd + 2 + size + 2;
    }
  }
  const length = headers["content-length"];
  if (length !== undefined) {
    const expected = Number(length);
    if (rest.length >= expected) return { status, headers, body: rest.subarray(0, expected).toString("utf8") };
    return atEnd ? { status, headers, body: rest.toString("utf8") } : undefined;
  }
  return atEnd ? { status, headers, body: rest.toString("utf8") } : undefined;
}

async function httpsRequest(method: string, url: URL, options: RequestOptions): Promise<HttpResponse> {
  const { request } = await import("node:https");
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const req = request(url, { method, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        settled = true;
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === "string") headers[name] = value;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new NetworkError(`no answer from ${url.origin} within ${options.timeoutMs} ms`, "ETIMEDOUT"));
    }, options.timeoutMs);
    req.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(
        error instanceof NetworkError
          ? error
          : new NetworkError(`${url.origin}: ${error.message}`, error.code ?? "EIO"),
      );
    });
    req.end(options.body);
  });
}
