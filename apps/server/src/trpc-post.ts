import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import type { AppRouter } from "@logbook/api";
import type { inferRouterContext } from "@trpc/server";
import { resolveResponse, type HTTPErrorHandler, type ResponseMetaFn, type TRPCRequestInfo } from "@trpc/server/http";

/**
 * A fetch `Request` whose body is text the server has already read. tRPC's JSON handler reads
 * a body once, with `text()`; this hands it the string as it is. (The node adapter, given a
 * string body, encodes it into bytes for a new `Request`, which tRPC decodes into a second
 * string: two more copies of every body, ~570 KB each for a 500-event batch, and the first
 * string stayed reachable from the request until its answer was sent.) The text is let go at
 * the read, so only the parsed input outlives it.
 */
function readBodyRequest(url: URL, init: RequestInit, body: string): Request {
  const request = new Request(url, init);
  let unread: string | null = body;
  Object.defineProperty(request, "text", {
    value: () => {
      const text = unread ?? "";
      unread = null;
      return Promise.resolve(text);
    },
  });
  return request;
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue; // HTTP/2 pseudo-headers
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.append(name, value);
  }
  return headers;
}

interface TrpcPostOptions {
  router: AppRouter;
  /** Where the router is mounted, e.g. `/trpc/`. */
  basePath: string;
  createContext: (opts: { req: IncomingMessage; info: TRPCRequestInfo }) => Promise<inferRouterContext<AppRouter>>;
  onError: HTTPErrorHandler<AppRouter, IncomingMessage>;
  responseMeta: ResponseMetaFn<AppRouter>;
}

/**
 * Answers a tRPC POST whose body the server has read as `body`, through tRPC's own
 * `resolveResponse` (the same batching, errors, status codes and headers as its node
 * adapter), without decoding the body a second time.
 */
export function createTrpcPostHandler(options: TrpcPostOptions) {
  const trimSlashes = (path: string) => path.replace(/^\/+|\/+$/g, "");
  const base = trimSlashes(options.basePath);
  return (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = trimSlashes(trimSlashes(url.pathname).slice(base.length));
    // Aborted when the client goes away before its answer is complete, as the adapter does.
    const aborted = new AbortController();
    res.once("close", () => {
      if (!res.writableEnded) aborted.abort();
    });
    const request = readBodyRequest(
      url,
      { method: req.method ?? "POST", headers: headersOf(req), signal: aborted.signal },
      body,
    );
    void resolveResponse({
      router: options.router,
      req: request,
      path,
      error: null,
      responseMeta: options.responseMeta,
      createContext: ({ info }) => options.createContext({ req, info }),
      onError: (opts) => options.onError({ ...opts, req }),
    })
      .then(async (response) => {
        res.statusCode = response.status;
        for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
        const cookies = response.headers.getSetCookie();
        if (cookies.length > 0) res.setHeader("set-cookie", cookies);
        if (!response.body) return void res.end();
        await pipeline(Readable.fromWeb(response.body), res);
      })
      // resolveResponse answers every error itself; this is a client gone mid-answer.
      .catch(() => res.destroy());
  };
}
