import type { IncomingMessage, ServerResponse } from "node:http";

import { appRouter, rememberedKeyContext, type ApiDeps } from "@logbook/api";
import { callTRPCProcedure, transformTRPCResponse } from "@trpc/server";

const PREFIX = "/trpc/";

/**
 * Answers a plain tRPC query (`GET /trpc/<path>?input=…`, one call, not batched, not
 * streamed) from a caller whose key was verified a moment ago, without tRPC's HTTP adapter;
 * resolves false, having sent nothing, for anything else, and the caller hands the request
 * to the adapter.
 *
 * Why (issue 15): the adapter turns every Node request into a fetch `Request` (URL, `Headers`,
 * `AbortController`) and pipes a fetch `Response` through web streams into the socket, as a
 * chunked body. In a CPU profile of `auth.whoami` that was 60% of the server's busy time; the
 * procedure itself (context, middlewares, input and output checks) is the same call here,
 * through tRPC's own `callTRPCProcedure`, and the body the same `{"result":{"data":…}}`.
 *
 * Only success is answered here. A call that fails (unknown path, a mutation or a
 * subscription, bad input, an error of the procedure), input that is not JSON, or an answer
 * that does not serialise, goes to the adapter, which runs it again and answers exactly as
 * before (error shape, status, `onError` logging). Queries change nothing, and
 * `rememberedKeyContext` reads and records nothing, so running one twice is safe; failures
 * are the rare case. A `responseMeta` that set headers on success would have to be applied
 * here too (today it only answers errors).
 */
export async function answerPlainQuery(
  deps: ApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  if (req.method !== "GET" || url.searchParams.has("batch") || req.headers["trpc-accept"] !== undefined) return false;
  const path = decodePath(url.pathname);
  if (path === null) return false;
  const ctx = rememberedKeyContext(deps, req.headers.authorization);
  if (!ctx) return false;
  const rawInput = url.searchParams.get("input");
  let input: unknown = undefined;
  if (rawInput !== null) {
    try {
      input = JSON.parse(rawInput);
    } catch {
      return false;
    }
  }
  let body: string;
  try {
    const data: unknown = await callTRPCProcedure({
      router: appRouter,
      path,
      type: "query",
      ctx,
      getRawInput: () => Promise.resolve(input),
      signal: undefined,
      batchIndex: 0,
    });
    // A stream-like answer is the adapter's to refuse (queries here return plain data).
    if (isStreamLike(data)) return false;
    body = JSON.stringify(transformTRPCResponse(appRouter._def._config, { result: { data } }));
  } catch {
    return false;
  }
  res.statusCode = 200;
  res.setHeader("vary", "trpc-accept, accept");
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", Buffer.byteLength(body));
  res.end(body);
  return true;
}

/** `auth.whoami` from `/trpc/auth.whoami`; null for a batch (`a,b`) or a path that does not decode. */
function decodePath(pathname: string): string | null {
  if (!pathname.startsWith(PREFIX)) return null;
  let path: string;
  try {
    path = decodeURIComponent(pathname.slice(PREFIX.length));
  } catch {
    return null;
  }
  return path === "" || path.includes(",") ? null : path;
}

function isStreamLike(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  return Symbol.asyncIterator in value || value instanceof ReadableStream;
}
