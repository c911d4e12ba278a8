/**
 * The dashboard's cookie session, as the API sees it (issue 17). A browser signs in through a
 * login link (`auth.createLoginLink`, redeemed by the server at `/auth/link`) and then
 * carries the session in an HttpOnly cookie instead of an `Authorization` header.
 *
 * Cookies go with every request the browser makes, including ones another site triggers, so a
 * cookie-authenticated request that can change anything (any method but GET/HEAD: tRPC sends
 * mutations as POST) must show it comes from our own page:
 * - the `X-Logbook-CSRF: 1` header: a cross-site form cannot set it, and a cross-site script
 *   cannot send it without a CORS preflight, which this server never grants;
 * - when the browser says where the request comes from (`Origin`, `Sec-Fetch-Site`), that
 *   must be this server.
 * The cookie's `SameSite=Strict` is the first line; these hold even where it is not honoured.
 */
import { parseCookie } from "cookie";

import { AppError } from "@logbook/core";

/** The session cookie's name. */
export const SESSION_COOKIE = "logbook_session";
/** The header the dashboard sends with every call. */
export const CSRF_HEADER = "x-logbook-csrf";

/** The parts of a request the checks read. */
export interface BrowserRequestInfo {
  method?: string | undefined;
  headers: {
    cookie?: string | undefined;
    host?: string | undefined;
    origin?: string | undefined;
    "sec-fetch-site"?: string | undefined;
    "x-logbook-csrf"?: string | string[] | undefined;
  };
}

/** The session secret from a `Cookie` header, if any. */
export function sessionTokenFrom(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  const value = parseCookie(cookieHeader)[SESSION_COOKIE];
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Null when a cookie-authenticated request may go on; else the FORBIDDEN error that says
 * why. Reads are let through (they change nothing, and a cross-site page cannot read the
 * answer without CORS).
 */
export function crossSiteRefusal(req: BrowserRequestInfo): AppError | null {
  const method = (req.method ?? "GET").toUpperCase();
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return null;
  const fetchSite = req.headers["sec-fetch-site"];
  if (fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none") {
    return new AppError(
      "FORBIDDEN",
      `a signed-in browser may only change things from this server's own pages (Sec-Fetch-Site: ${fetchSite})`,
    );
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !sameHost(origin, req.headers.host)) {
    return new AppError(
      "FORBIDDEN",
      "a signed-in browser may only change things from this server's own pages (Origin does not match)",
    );
  }
  if (req.headers[CSRF_HEADER] !== "1") {
    return new AppError(
      "FORBIDDEN",
      `a request signed in by cookie that changes something must carry the header '${CSRF_HEADER}: 1'`,
    );
  }
  return null;
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
