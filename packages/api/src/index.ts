/**
 * @logbook/api: the tRPC routers, their context and the error mapping. The server mounts
 * `appRouter`; clients import `type AppRouter` only (never this package at run time).
 */
export { appRouter, type AppRouter } from "./root.js";
export {
  createCallerFactory,
  createContextFactory,
  createContextInner,
  rememberedKeyContext,
  accessError,
  hasScope,
  type ApiDeps,
  type ApiLogger,
  type BatchLimits,
  type AuthInfo,
  type Context,
  type LiveFeed,
} from "./trpc.js";
export { CSRF_HEADER, SESSION_COOKIE, crossSiteRefusal, sessionTokenFrom } from "./web-session.js";
export { LOGIN_LINK_PATH } from "./routers/auth/router.js";
export { AuthThrottle } from "./auth-throttle.js";
export { KeyStreams, type KeyBoundStream } from "./key-streams.js";
export {
  APP_CODE_TO_TRPC_CODE,
  INTERNAL_ERROR_MESSAGE,
  describeError,
  formatErrorShape,
  logApiError,
  retryAfterSeconds,
  toHttpErrorBody,
  toTRPCError,
  type DescribedError,
  type LogbookErrorData,
  type LogbookErrorShape,
} from "./errors.js";
