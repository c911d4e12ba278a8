import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";

import {
  appRouter,
  createContextFactory,
  describeError,
  logApiError,
  retryAfterSeconds,
  toHttpErrorBody,
  toTRPCError,
  type ApiDeps,
} from "@logbook/api";
import { AppError } from "@logbook/core";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";

import {
  BodyTooLargeError,
  DRAIN_LIMIT_BYTES,
  bodyReservation,
  declaresMoreThan,
  discardBody,
  readBody,
  type BodyBudget,
} from "./body.js";
import { inexactNumberError } from "./exact-numbers.js";
import { exportSessionId, handleSessionExport } from "./export-endpoint.js";
import { handleClaudeCodeHook } from "./hook-endpoint.js";
import { handleOtlpExport, OTLP_PATHS } from "./otlp-endpoint.js";
import type { Logger } from "./logger.js";
import { answerPlainQuery, claimPlainQuery, type PlainQueryOptions } from "./plain-query.js";
import { sendJson, sendRefusal } from "./respond.js";
import { createTrpcPostHandler } from "./trpc-post.js";
import { redeemLoginLink, signOut, type WebAssets } from "./web.js";

export interface HttpDeps extends ApiDeps {
  logger: Logger;
  bodyLimitBytes: number;
  /** Request-body bytes held at once across requests (BODY_BUDGET_BYTES); unbounded when absent. */
  bodyBudget?: BodyBudget;
  /** Null while the database is up; else seconds to wait: every route but /health answers 503 at once. */
  databaseRetryAfter?: () => number | null;
  /**
   * True until the server's start is done (the first-start key written to the credentials
   * file, partitions made): every route, /health too, answers 503 with Retry-After, so
   * nothing (a balancer, a harness that then reads the credentials) takes it for ready early.
   */
  starting?: () => boolean;
  /** Sees every error a request ended with (to notice a database that went away). */
  onRequestError?: (error: unknown) => void;
  /** The built dashboard, served at `/`; absent when the server was built without it. */
  webAssets?: WebAssets | null;
}

/** Paths that belong to the API and its doors, never to the dashboard's client routes. */
const SERVER_PATHS = /^\/(trpc|health|hooks|auth|v1|export)(\/|$)/;

/**
 * A client's own id for a request (`X-Request-Id`), put in the server's request log line so a
 * client (or a test) can find the line of that request among concurrent ones. Only a short
 * plain token is taken; anything else is left out of the log, not altered.
 */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

function requestIdOf(req: IncomingMessage): string | undefined {
  const id = req.headers["x-request-id"];
  return typeof id === "string" && REQUEST_ID.test(id) ? id : undefined;
}

/**
 * Requests in flight, so a graceful stop can wait for ordinary requests to finish and
 * then cut the long-lived SSE streams (their clients reconnect, to this replica's
 * successor or another one, and resume from their last event id) and downloads (a client
 * that reads slowly, or not at all, must not hold the stop).
 */
export class InFlight {
  private readonly requests = new Set<ServerResponse>();
  private idleWaiters: Array<() => void> = [];

  track(res: ServerResponse): void {
    this.requests.add(res);
    res.once("close", () => {
      this.requests.delete(res);
      if (this.ordinaryCount() === 0) this.notifyIdle();
    });
  }

  /** SSE streams and file downloads (exports): as long as their client reads, so cut at a stop. */
  private isStream(res: ServerResponse): boolean {
    return (
      String(res.getHeader("content-type") ?? "").startsWith("text/event-stream") ||
      String(res.getHeader("content-disposition") ?? "").startsWith("attachment")
    );
  }

  ordinaryCount(): number {
    let count = 0;
    for (const res of this.requests) if (!this.isStream(res)) count++;
    return count;
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves when no ordinary (non-stream) request is in flight. */
  whenIdle(): Promise<void> {
    if (this.ordinaryCount() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends every SSE stream (and anything else still open). */
  destroyAll(): void {
    for (const res of this.requests) res.destroy();
  }
}

function notFound(req: IncomingMessage, res: ServerResponse): void {
  sendRefusal(res, {
    code: "NOT_FOUND",
    httpStatus: 404,
    message: `no route for ${req.method ?? "GET"} ${new URL(req.url ?? "/", "http://x").pathname}`,
  });
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader("allow", allow);
  sendRefusal(res, { code: "METHOD_NOT_SUPPORTED", httpStatus: 405, message: `use ${allow}` });
}

/** 503 before reading anything; the body is drained so a client still sending reads the answer. */
function unavailable(
  req: IncomingMessage,
  res: ServerResponse,
  retryAfterSeconds: number,
  message = "the database is not available right now, try again",
): void {
  req.resume();
  res.setHeader("retry-after", String(retryAfterSeconds));
  const unavailable = new AppError("UNAVAILABLE", message, { details: { retryAfterSeconds } });
  sendJson(res, 503, toHttpErrorBody(describeError(unavailable)));
}

/**
 * Reserves the request's body bytes in the budget until its response closes; when they do
 * not fit, reads the body only to throw it away, then answers 503 with Retry-After.
 */
function admitBody(budget: BodyBudget, bodyLimitBytes: number, req: IncomingMessage, res: ServerResponse): boolean {
  const bytes = bodyReservation(req, bodyLimitBytes);
  const release = budget.tryReserve(bytes);
  if (release) {
    res.once("close", release);
    return true;
  }
  const busy = new AppError(
    "UNAVAILABLE",
    `the server is reading as many request bodies as it may hold at once (BODY_BUDGET_BYTES=${budget.limitBytes}); retry shortly`,
    { details: { retryAfterSeconds: 1 } },
  );
  // Answered once the body is read and dropped (holding nothing): a client still sending
  // would otherwise meet a reset instead of this answer.
  void discardBody(req, bodyLimitBytes + DRAIN_LIMIT_BYTES).then((drained) => {
    if (!drained) res.setHeader("connection", "close");
    res.setHeader("retry-after", "1");
    sendJson(res, 503, toHttpErrorBody(describeError(busy)));
  });
  return false;
}

/**
 * Answers `Expect: 100-continue` (the hook emitter announces bodies over 1 MB with it): a
 * body the server would refuse unread (a Content-Length over BODY_LIMIT_BYTES) gets its 413
 * at once, without a 100 Continue, so the client never starts sending it. Node's default
 * writes 100 Continue before any handler runs; the client then began a body that the server
 * refused and closed on, and the kernel's reset of that connection (unread data) could
 * destroy the 413 before the client read it: a refused event looked like a network failure
 * and stayed spooled for ever. Any other request gets its 100 Continue as before.
 */
export function answerExpectContinue(server: Server, listener: RequestListener, bodyLimitBytes: number): void {
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (!declaresMoreThan(req, bodyLimitBytes)) res.writeContinue();
    listener(req, res);
  });
}

/**
 * Routes: `/trpc/*` (tRPC: batching, SSE subscriptions, body limit), `GET /health` (open),
 * `POST /hooks/claude-code` (raw hook payloads), `POST /v1/logs|metrics|traces` (OTLP/HTTP),
 * the dashboard's sign-in (`GET /auth/link`, `POST /auth/sign-out`) and, for any other GET,
 * the dashboard's files (`index.html` for its client routes; served while the database is
 * down too, so the page can say so); anything else is a JSON 404.
 */
export function createRequestListener(deps: HttpDeps, inFlight: InFlight): RequestListener {
  const createContext = createContextFactory(deps);
  /** The adapter's and the plain GET path's (plain-query.ts): both answer errors alike. */
  const answering: PlainQueryOptions = {
    onError: ({ error, path, type }) => {
      deps.onRequestError?.(error);
      logApiError(deps.logger, error, { path, type });
    },
    // A 429 (auth throttle) or 503 says when to come back.
    responseMeta: ({ errors }) => {
      const seconds = errors.map(retryAfterSeconds).find((s) => s !== undefined);
      return seconds === undefined ? {} : { headers: { "retry-after": String(seconds) } };
    },
  };
  /** What reading a tRPC body found wrong; the context refuses the request with it (batch-aware). */
  const bodyProblems = new WeakMap<IncomingMessage, AppError>();
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/trpc/",
    createContext,
    maxBodySize: deps.bodyLimitBytes,
    ...answering,
  });
  /**
   * POSTs: the body is read here, not by the adapter, to check its numbers on the text (see
   * exact-numbers.ts), and handed to tRPC as that text (see trpc-post.ts). A problem found in
   * reading it refuses the request from the context (batch-aware, as any other refusal).
   */
  const trpcPost = createTrpcPostHandler({
    router: appRouter,
    basePath: "/trpc/",
    createContext: async ({ req, info }) => {
      const problem = bodyProblems.get(req);
      if (problem) throw toTRPCError(problem);
      return createContext({ req, info });
    },
    ...answering,
  });

  return (req, res) => {
    inFlight.track(res);
    const started = performance.now();
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const requestId = requestIdOf(req);
    res.once("finish", () => {
      // The path only: a tRPC query string carries the input.
      deps.logger.debug(
        {
          method: req.method,
          path,
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
          ...(requestId === undefined ? {} : { requestId }),
        },
        "request",
      );
    });

    if (deps.webAssets && (req.method === "GET" || req.method === "HEAD") && !SERVER_PATHS.test(path)) {
      return deps.webAssets.serve(req, res, () => notFound(req, res));
    }
    if (deps.starting?.()) return unavailable(req, res, 1, "the server is starting, try again");
    const retryAfter = path === "/health" ? null : (deps.databaseRetryAfter?.() ?? null);
    if (retryAfter !== null) return unavailable(req, res, retryAfter);
    if (deps.bodyBudget && !admitBody(deps.bodyBudget, deps.bodyLimitBytes, req, res)) return;
    if (path === "/trpc" || path.startsWith("/trpc/")) {
      if (req.method !== "POST") {
        // A plain query from a key verified a moment ago skips the adapter; claimed or not is
        // decided before anything runs, and a claimed query is answered there, errors too.
        const query = claimPlainQuery(deps, req);
        if (query) return void answerPlainQuery(answering, query, req, res);
        return trpc(req, res);
      }
      const batch = new URL(req.url ?? "/", "http://x").searchParams.get("batch") === "1";
      void readBody(req, deps.bodyLimitBytes).then(
        (body) => {
          const text = body.toString("utf8");
          const problem = inexactNumberError(text, batch);
          if (problem) bodyProblems.set(req, problem);
          trpcPost(req, res, text);
        },
        (error: unknown) => {
          if (!(error instanceof BodyTooLargeError)) return res.destroy();
          // Not drained (a runaway body): close after the answer (see hook-endpoint.ts).
          if (!error.drained) res.setHeader("connection", "close");
          bodyProblems.set(req, new AppError("PAYLOAD_TOO_LARGE", `${error.message} (BODY_LIMIT_BYTES)`));
          trpcPost(req, res, "");
        },
      );
      return;
    }
    if (path === "/health") {
      if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(res, "GET");
      void deps
        .health()
        .then((health) => sendJson(res, health.status === "ok" ? 200 : 503, health))
        .catch((error: unknown) => {
          deps.logger.error({ err: error }, "health check failed");
          sendJson(res, 503, { status: "degraded" });
        });
      return;
    }
    if (path === "/auth/link") {
      if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(res, "GET");
      void redeemLoginLink(req, res, deps);
      return;
    }
    if (path === "/auth/sign-out") {
      if (req.method !== "POST") return methodNotAllowed(res, "POST");
      void signOut(req, res, deps);
      return;
    }
    if (path === "/hooks/claude-code") {
      if (req.method !== "POST") return methodNotAllowed(res, "POST");
      void handleClaudeCodeHook(req, res, deps);
      return;
    }
    const exportId = exportSessionId(path);
    if (exportId !== null) {
      if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(res, "GET");
      void handleSessionExport(req, res, deps, exportId);
      return;
    }
    const signal = OTLP_PATHS[path];
    if (signal) {
      if (req.method !== "POST") return methodNotAllowed(res, "POST");
      void handleOtlpExport(req, res, signal, deps);
      return;
    }
    notFound(req, res);
  };
}
