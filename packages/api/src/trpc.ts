/**
 * A short tour of the API's tRPC setup, top to bottom:
 *
 * 1. CONTEXT      what every procedure can use: the services, the live bus, the logger
 *                 and who is calling (the API key from `Authorization: Bearer …`).
 * 2. INITIALISE   tRPC itself: the error formatter and the SSE settings.
 * 3. MIDDLEWARE   error mapping, authentication, scope checks.
 * 4. PROCEDURES   the building blocks routers use: `publicProcedure`, `authedProcedure`,
 *                 `ingestProcedure`, `readProcedure` and `adminProcedure`.
 *
 * Routers (`routers/<domain>/router.ts`) import only section 4.
 */
import {
  initTRPC,
  type TRPCBuiltRouter,
  type TRPCCreateRouterOptions,
  type TRPCDecorateCreateRouterOptions,
  type TRPCRouterCaller,
  type TRPCRouterRecord,
} from "@trpc/server";
import type { TRPCRequestInfo } from "@trpc/server/http";
import type { ApiKeyScope, Health } from "@logbook/contracts";
import { AppError, type ApiKeyPrincipal, type LiveBus, type Services } from "@logbook/core";

import type { AuthThrottle } from "./auth-throttle.js";
import { formatErrorShape, toTRPCError, type LogbookErrorShape } from "./errors.js";
import type { KeyBoundStream, KeyStreams } from "./key-streams.js";
import { crossSiteRefusal, sessionTokenFrom, type BrowserRequestInfo } from "./web-session.js";

/* ------------------------------------------------------------------ 1. CONTEXT */

/** The logger the API writes to: pino's call shape (`logger.error({ err }, "msg")`). */
export interface ApiLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The part of the live bus subscriptions read from. */
export type LiveFeed = Pick<LiveBus, "events" | "sessions">;

/** What the server builds once at start and hands to every request. */
export interface ApiDeps {
  services: Services;
  bus: LiveFeed;
  logger: ApiLogger;
  /** Database reachability and migration state, shared with `GET /health`. */
  health: () => Promise<Health>;
  /** Caps on one HTTP request's batch of calls; none when absent. */
  batchLimits?: BatchLimits;
  /** Holds up addresses that keep failing to authenticate; none when absent. */
  authThrottle?: AuthThrottle;
  /** Open subscriptions by key, cut on revocation and expiry; untracked when absent. */
  keyStreams?: KeyStreams;
  /** Where people reach this server (e.g. http://127.0.0.1:4680): login links start with it. */
  publicUrl?: string;
}

/** What one batched HTTP request may carry (MAX_BATCH_CALLS, MAX_BATCH_EVENTS). */
export interface BatchLimits {
  /** Calls in one request. */
  maxCalls: number;
  /** Events across the ingest calls (`events.ingest`, `hooks.ingest`) of one request. */
  maxEvents: number;
}

/** The caller, once its API key has been verified. */
export interface AuthInfo {
  keyId: string;
  name: string;
  scopes: ApiKeyScope[];
  /** When the key stops verifying (ISO time), or null: open streams are cut then. */
  expiresAt: string | null;
}

export interface Context extends ApiDeps {
  /** Null when no valid key came with the request. */
  auth: AuthInfo | null;
  /** Why `auth` is null: no key sent, a header that is not `Bearer <key>`, a key that does not verify, or a dashboard session that ended. */
  authProblem: "missing" | "malformed" | "invalid" | "signedOut" | null;
  /** How the caller proved who it is: an API key, or the dashboard's session cookie (see web-session.ts). */
  authVia: "key" | "session" | null;
  /**
   * The answer is written with `stringifyJson` (the server's plain GET path), so a procedure
   * may return stored JSON as `StoredJsonText` instead of parsing it (events.listForSession).
   * Unset everywhere else: tRPC's adapter and in-process callers get objects.
   */
  writesJsonText?: boolean;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Builds the context for one request from its `Authorization` header or, without one, from
 * the dashboard's session secret (its cookie). Used by the HTTP adapter (through
 * `createContextFactory`), the hook endpoint and directly by tests.
 * A key that does not verify counts against `clientAddress` in the auth throttle (and is
 * logged at warn, never the key itself); from an address over its limit, any key but a
 * valid one gets TOO_MANY_REQUESTS.
 */
export async function createContextInner(
  deps: ApiDeps,
  authorization: string | undefined,
  clientAddress = "unknown",
  sessionToken?: string,
): Promise<Context> {
  if (authorization === undefined || authorization.trim() === "") {
    if (sessionToken === undefined) return { ...deps, auth: null, authProblem: "missing", authVia: null };
    // A stale cookie is an ended session, not a guess (its secret has 256 bits): not throttled.
    const session = await deps.services.webSessions.verify(sessionToken);
    if (!session) return { ...deps, auth: null, authProblem: "signedOut", authVia: null };
    return {
      ...deps,
      auth: { keyId: session.id, name: session.name, scopes: session.scopes, expiresAt: session.expiresAt },
      authProblem: null,
      authVia: "session",
    };
  }
  const secret = BEARER.exec(authorization)?.[1];
  // A key verified a moment ago is no guess: no throttle look-up on the hot path.
  const remembered = secret ? deps.services.apiKeys.remembered(secret) : null;
  if (remembered) return keyContext(deps, remembered);
  const key = secret ? await deps.services.apiKeys.verify(secret) : null;
  // A valid key passes even from an address held up: on one machine every client shares
  // 127.0.0.1, and a stranger's bad keys must not lock the owner's CLI and hooks out.
  if (key) return keyContext(deps, key);
  // Held up: refused, and not counted again (the window does not grow).
  const waitMs = (await deps.authThrottle?.retryAfterMs(clientAddress)) ?? 0;
  if (waitMs > 0) throw tooManyFailures(waitMs);

  const authProblem = secret ? "invalid" : "malformed";
  const counted = await deps.authThrottle?.recordFailure(clientAddress);
  deps.logger.warn(
    { address: clientAddress, problem: authProblem, failures: counted?.failures, heldUp: counted?.blocked },
    counted?.blocked
      ? "failed authentication: the address is held up for the rest of its window"
      : "failed authentication",
  );
  return { ...deps, auth: null, authProblem, authVia: null };
}

function keyContext(deps: ApiDeps, key: ApiKeyPrincipal): Context {
  return {
    ...deps,
    auth: { keyId: key.id, name: key.name, scopes: key.scopes, expiresAt: key.expiresAt },
    authProblem: null,
    authVia: "key",
  };
}

/**
 * The context `createContextInner` builds for an `Authorization` header whose key was
 * verified a moment ago (`apiKeys.remembered`), else null. It reads nothing and records
 * nothing (no database, no auth throttle), so a caller can decide with it, before anything
 * runs, whether to take a request or leave it whole to the HTTP adapter: the server's plain
 * GET path (apps/server/src/plain-query.ts). Any other header (none, malformed, a key not
 * in the cache, a wrong one) gets null, and its failure is counted once, by the adapter.
 */
export function rememberedKeyContext(deps: ApiDeps, authorization: string | undefined): Context | null {
  const secret = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
  const key = secret ? deps.services.apiKeys.remembered(secret) : null;
  return key ? keyContext(deps, key) : null;
}

function tooManyFailures(waitMs: number): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new AppError(
    "TOO_MANY_REQUESTS",
    `too many failed authentications from this address: try again in ${retryAfterSeconds} s`,
    { details: { retryAfterSeconds } },
  );
}

const INGEST_PATHS: ReadonlySet<string> = new Set(["events.ingest", "hooks.ingest"]);

/**
 * Refuses a batch over `limits` before any of its calls runs (so nothing of it is
 * written): too many calls, or too many events across its ingest calls (each call is
 * capped at 1,000 by its contract; a batch of 80 of them was not).
 */
async function checkBatch(info: TRPCRequestInfo | undefined, limits: BatchLimits | undefined): Promise<void> {
  if (!info || !limits || info.calls.length <= 1) return;
  if (info.calls.length > limits.maxCalls) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      `a batch may hold at most ${limits.maxCalls} calls (MAX_BATCH_CALLS); this one holds ${info.calls.length}`,
      { details: { limit: limits.maxCalls, calls: info.calls.length } },
    );
  }
  let events = 0;
  for (const call of info.calls) {
    if (!INGEST_PATHS.has(call.path)) continue;
    const input = (await call.getRawInput()) as { events?: unknown } | null | undefined;
    if (Array.isArray(input?.events)) events += input.events.length;
  }
  if (events > limits.maxEvents) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      `a batch may carry at most ${limits.maxEvents} events across its ingest calls (MAX_BATCH_EVENTS); this one carries ${events}`,
      { details: { limit: limits.maxEvents, events } },
    );
  }
}

/** The parts of the adapter's request the context reads. */
interface ContextRequest extends BrowserRequestInfo {
  headers: BrowserRequestInfo["headers"] & { authorization?: string | undefined };
  socket?: { remoteAddress?: string | undefined } | undefined;
}

/**
 * `createContext` for `createHTTPHandler`: checks the batch against `deps.batchLimits`,
 * then reads the request's `Authorization` header, or its session cookie; a
 * cookie-authenticated request that changes something must pass the cross-site checks.
 * @example createHTTPHandler({ router: appRouter, createContext: createContextFactory(deps) })
 */
export function createContextFactory(deps: ApiDeps) {
  return async ({ req, info }: { req: ContextRequest; info?: TRPCRequestInfo }): Promise<Context> => {
    try {
      const ctx = await createContextInner(
        deps,
        req.headers.authorization,
        req.socket?.remoteAddress,
        sessionTokenFrom(req.headers.cookie),
      );
      if (ctx.authVia === "session") {
        const refused = crossSiteRefusal(req);
        if (refused) throw refused;
      }
      await checkBatch(info, deps.batchLimits);
      return ctx;
    } catch (error) {
      // Mapped here: tRPC would turn a plain error from createContext into a 500.
      throw toTRPCError(error);
    }
  };
}

/* ------------------------------------------------------------------ 2. INITIALISE */

const t = initTRPC.context<Context>().create({
  /** All error mapping lives in errors.ts; this only applies it. */
  errorFormatter: ({ error, path }) => formatErrorShape({ error, path }),
  // Stack traces never leave the server, whatever NODE_ENV says.
  isDev: false,
  sse: {
    // Comments every 10 s keep proxies from closing an idle stream; a client that hears
    // nothing (not even a ping) for 30 s reconnects on its own, resuming from its last id.
    ping: { enabled: true, intervalMs: 10_000 },
    client: { reconnectAfterInactivityMs: 30_000 },
  },
});

/**
 * The root types routers carry, as clients see them. A router's type holds its context's
 * type, and ours is the server's (services, the database driver, the live bus): a client's
 * declarations would need all of that to typecheck. Clients use only the procedures, the
 * error shape and the transformer, so routers are typed with `ctx: object`; procedures
 * still see the full `Context`, since they are built from `t` (tRPC issue #5004).
 */
export interface ClientRootTypes {
  ctx: object;
  meta: object;
  errorShape: LogbookErrorShape;
  transformer: false;
}

/** The same as `t`'s root types but for `ctx`; a compile error here means ClientRootTypes is out of date. */
type ServerRootTypes = typeof t._config.$types;
const rootTypesAgree: [Omit<ServerRootTypes, "ctx">, Omit<ClientRootTypes, "ctx">] extends [
  Omit<ClientRootTypes, "ctx">,
  Omit<ServerRootTypes, "ctx">,
]
  ? true
  : never = true;
void rootTypesAgree;

/**
 * `t.router`, typed with `ClientRootTypes`. Only the context's type changes: the HTTP adapter
 * and `createCaller` accept any object as context there, and `createContextInner` is what
 * builds a real one.
 */
export function createTRPCRouter<const TRecord extends TRPCCreateRouterOptions>(
  record: TRecord,
): TRPCBuiltRouter<ClientRootTypes, TRPCDecorateCreateRouterOptions<TRecord>> {
  // Why a cast: a router's `createCaller` takes its ctx as a parameter, so a router typed
  // with `Context` is not assignable to one typed with `object`; nothing at run time differs.
  return t.router(record) as unknown as TRPCBuiltRouter<ClientRootTypes, TRPCDecorateCreateRouterOptions<TRecord>>;
}

/**
 * `t.createCallerFactory` for routers typed with `ClientRootTypes`: the caller it makes still
 * takes a whole `Context`, as the procedures need.
 */
export function createCallerFactory<TRecord extends TRPCRouterRecord>(
  router: Pick<TRPCBuiltRouter<ClientRootTypes, TRecord>, "_def">,
): TRPCRouterCaller<ServerRootTypes, TRecord> {
  // The same object: only its context type was widened by createTRPCRouter.
  return t.createCallerFactory(router as unknown as Pick<TRPCBuiltRouter<ServerRootTypes, TRecord>, "_def">);
}

/* ------------------------------------------------------------------ 3. MIDDLEWARE */

/**
 * Turns whatever a procedure threw into the mapped tRPC error (AppError codes, database
 * errors through `toAppError`), so the HTTP status and the adapter's `onError` (which
 * logs internal errors with `logApiError`) see the real code. `next()` never throws:
 * failures arrive as `{ ok: false }`.
 */
const errorMapping = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok) return result;
  throw toTRPCError(result.error);
});

const AUTH_MESSAGES: Record<NonNullable<Context["authProblem"]>, string> = {
  missing: "an API key is required: send the header 'Authorization: Bearer <key>'",
  malformed: "the Authorization header must be 'Bearer <key>'",
  invalid: "the API key is not valid (unknown, expired or revoked)",
  signedOut: "the dashboard session has ended (signed out, expired, or its key was revoked): sign in again",
};

/** `admin` implies every scope. */
export function hasScope(auth: AuthInfo, scope: ApiKeyScope): boolean {
  return auth.scopes.includes(scope) || auth.scopes.includes("admin");
}

/**
 * Why a caller may not proceed: UNAUTHORIZED without a valid key, FORBIDDEN without the
 * scope (when one is required), else null. Shared with the server's plain HTTP routes.
 * The messages say what to fix, never whether a given key exists.
 */
export function accessError(ctx: Pick<Context, "auth" | "authProblem">, scope?: ApiKeyScope): AppError | null {
  if (!ctx.auth) return new AppError("UNAUTHORIZED", AUTH_MESSAGES[ctx.authProblem ?? "invalid"]);
  if (scope && !hasScope(ctx.auth, scope)) {
    return new AppError("FORBIDDEN", `this API key does not have the '${scope}' scope`);
  }
  return null;
}

/** Requires a valid key (and a scope, when given) and narrows `ctx.auth` to non-null. */
const requireKey = (scope?: ApiKeyScope) =>
  t.middleware(({ ctx, next }) => {
    const refused = accessError(ctx, scope);
    if (refused || !ctx.auth) throw refused ?? new AppError("UNAUTHORIZED", AUTH_MESSAGES.invalid);
    return next({ ctx: { auth: ctx.auth } });
  });

/* ------------------------------------------------------------------ 4. PROCEDURES */

/** Open to anyone (health only). */
export const publicProcedure = t.procedure.use(errorMapping);
/** Any valid key, whatever its scopes. */
export const authedProcedure = publicProcedure.use(requireKey());
/** Writes from agents, hooks and workers: the `ingest` scope. */
export const ingestProcedure = publicProcedure.use(requireKey("ingest"));
/** Every query and subscription: the `read` scope. */
export const readProcedure = publicProcedure.use(requireKey("read"));
/** Keys, retention, deletes, job administration: the `admin` scope. */
export const adminProcedure = publicProcedure.use(requireKey("admin"));

/**
 * For subscriptions: the stream's signal, bound to the caller's key as well as to the
 * client, so a revoked or expired key stops receiving (see KeyStreams). Iterate with
 * `signal`, call `throwIfCut()` after the loop (the client gets UNAUTHORIZED, not a quiet
 * end it would reconnect after) and `release()` in `finally`.
 */
export function keyBoundStream(
  ctx: Pick<Context, "keyStreams"> & { auth: AuthInfo },
  signal: AbortSignal | undefined,
): Pick<KeyBoundStream, "signal" | "release"> & { throwIfCut(): void } {
  const stream: KeyBoundStream = ctx.keyStreams?.open(ctx.auth.keyId, ctx.auth.expiresAt, signal) ?? {
    signal: signal ?? new AbortController().signal,
    cutReason: () => null,
    release: () => undefined,
  };
  return {
    signal: stream.signal,
    release: () => stream.release(),
    throwIfCut: () => {
      const cut = stream.cutReason();
      if (cut) throw toTRPCError(cut);
    },
  };
}
