/**
 * Raw HTTP calls to the server, the way any client (or attacker) can make them: no SDK,
 * so malformed input reaches the server as sent. Every call has a deadline.
 */
export interface RawResponse {
  status: number;
  /** Body text (for a stream: what arrived before we hung up). */
  body: string;
  /** The call did not finish before its deadline (a hang). */
  timedOut: boolean;
  /** The connection failed (refused, reset): no HTTP answer at all. */
  networkError: string | null;
  ms: number;
}

export interface RawRequest {
  method: "GET" | "HEAD" | "POST" | "DELETE";
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Uint8Array | ReadableStream<Uint8Array>;
  /** Deadline for the whole call. @default 15000 */
  timeoutMs?: number;
  /** For SSE: stop reading after this long and return what came. @default undefined (read to the end) */
  streamReadMs?: number;
}

export async function rawRequest(request: RawRequest): Promise<RawResponse> {
  const started = performance.now();
  const controller = new AbortController();
  const timeoutMs = request.timeoutMs ?? 15_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body as RequestInit["body"],
      // Streamed bodies (chunked, no Content-Length) need this in Node's fetch.
      ...(request.body instanceof ReadableStream ? { duplex: "half" } : {}),
      signal: controller.signal,
    });
    let body = "";
    const type = response.headers.get("content-type") ?? "";
    if (type.startsWith("text/event-stream") && request.streamReadMs !== undefined) {
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      const until = Date.now() + request.streamReadMs;
      const stop = setTimeout(() => void reader.cancel().catch(() => undefined), request.streamReadMs);
      try {
        while (Date.now() < until && body.length < 64_000) {
          const chunk: { done: boolean; value?: Uint8Array } = await reader.read();
          if (chunk.done) break;
          body += decoder.decode(chunk.value, { stream: true });
        }
      } catch {
        // cancelled: we hung up on purpose
      } finally {
        clearTimeout(stop);
        await reader.cancel().catch(() => undefined);
      }
    } else {
      body = await response.text();
    }
    return { status: response.status, body, timedOut: false, networkError: null, ms: performance.now() - started };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return {
      status: 0,
      body: "",
      timedOut,
      networkError: timedOut ? null : (cause?.code ?? cause?.message ?? (error as Error).message),
      ms: performance.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Calls one tRPC procedure with an already serialised input (text or raw bytes). */
export function callProcedure(
  baseUrl: string,
  path: string,
  kind: "query" | "mutation" | "subscription",
  input: string | Buffer | undefined,
  headers: Record<string, string> = {},
  timeoutMs?: number,
): Promise<RawResponse> {
  if (kind === "mutation") {
    return rawRequest({
      method: "POST",
      url: `${baseUrl}/trpc/${path}`,
      headers: { "content-type": "application/json", ...headers },
      ...(input === undefined ? {} : { body: input }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
  }
  const query = input === undefined ? "" : `?input=${encodeBytes(input)}`;
  return rawRequest({
    method: "GET",
    url: `${baseUrl}/trpc/${path}${query}`,
    headers: kind === "subscription" ? { accept: "text/event-stream", ...headers } : headers,
    ...(kind === "subscription" ? { streamReadMs: 400 } : {}),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

/** Percent-encodes bytes (so invalid UTF-8 reaches the server as it is). */
export function encodeBytes(input: string | Buffer): string {
  if (typeof input === "string") return encodeURIComponent(input);
  let out = "";
  for (const byte of input) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).padStart(2, "0").toUpperCase()}`;
  }
  return out;
}

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** An SSE body carries errors inside the stream: a 5xx there counts like a 5xx status. */
export function streamedServerError(body: string): boolean {
  return /"httpStatus":5\d\d/.test(body) || body.includes("INTERNAL_SERVER_ERROR");
}
