/**
 * The dashboard (issue 17) as the server sees it: its built files at `/` and the two plain
 * routes of its sign-in, `GET /auth/link?token=…` (a login link opened in the browser) and
 * `POST /auth/sign-out`. The session itself is checked by the API's context
 * (packages/api/src/web-session.ts).
 */
import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";

import { crossSiteRefusal, SESSION_COOKIE, sessionTokenFrom } from "@logbook/api";
import type { Services } from "@logbook/core";
import { stringifySetCookie } from "cookie";
import sirv from "sirv";

import type { Logger } from "./logger.js";
import { sendError } from "./respond.js";

/** Where the sign-in page is (a client route of the dashboard); `?link=invalid` says why. */
const SIGN_IN_PATH = "/sign-in";

/**
 * What every dashboard answer carries: the page may load only its own files and talk only
 * to this server, may not be framed, and sends no referrer (a login link's token is in its URL).
 */
const PAGE_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export interface WebAssets {
  /** Serves a GET/HEAD for a dashboard path; calls `notFound` for a missing hashed file. */
  serve(req: IncomingMessage, res: ServerResponse, notFound: () => void): void;
}

/**
 * The built dashboard in `root` (apps/web's `dist`, copied into the server's `dist/web`), or
 * null when it is not there (a server built without it). Hashed files under `/assets/` are
 * cached for a year (their name changes with their content); everything else, and
 * `index.html` for every client route a browser asks for, is revalidated each time. Precompressed `.gz` files
 * (written by the web build) are sent to clients that take gzip.
 */
export function createWebAssets(root: string): WebAssets | null {
  if (!existsSync(join(root, "index.html"))) return null;
  const setHeaders = (res: ServerResponse, pathname: string) => {
    for (const [name, value] of Object.entries(PAGE_HEADERS)) res.setHeader(name, value);
    res.setHeader(
      "cache-control",
      pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
    );
  };
  const assets: Handler = sirv(root, { dev: false, etag: true, gzip: true, setHeaders });
  const pages: Handler = sirv(root, { dev: false, etag: true, gzip: true, single: true, setHeaders });
  return {
    serve(req, res, notFound) {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      // A missing hashed file is a 404 (a stale page asking for an old build), not the app.
      if (path.startsWith("/assets/")) return assets(req, res, notFound);
      // The app for a client route only when a browser asks for a page: a program asking
      // for a path that is not there (an API URL with a path before `/trpc`) gets the 404
      // that says so, not a page it cannot read.
      if (path !== "/" && !acceptsHtml(req)) return assets(req, res, notFound);
      pages(req, res, notFound);
    },
  };
}

function acceptsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/i.test(req.headers.accept ?? "");
}

function isTls(req: IncomingMessage, publicUrl: string | undefined): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true || Boolean(publicUrl?.startsWith("https:"));
}

function sessionCookie(value: string, expires: Date, secure: boolean): string {
  return stringifySetCookie({
    name: SESSION_COOKIE,
    value,
    path: "/",
    httpOnly: true,
    sameSite: "strict",
    secure,
    expires,
  });
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, {
    location,
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "content-length": 0,
    ...headers,
  });
  res.end();
}

export interface SignInDeps {
  services: Pick<Services, "webSessions">;
  logger: Logger;
  publicUrl?: string;
}

/**
 * `GET /auth/link?token=…`: spends the login link, sets the session cookie and sends the
 * browser to `/`; a link that is unknown, used or expired goes to the sign-in page instead.
 * Either way the token leaves the address bar at once (a 303 to a URL without it).
 */
export async function redeemLoginLink(req: IncomingMessage, res: ServerResponse, deps: SignInDeps): Promise<void> {
  const token = new URL(req.url ?? "/", "http://x").searchParams.get("token") ?? "";
  try {
    const session = await deps.services.webSessions.redeemLoginLink(token);
    if (!session) {
      deps.logger.info({ route: "/auth/link" }, "a login link was refused (unknown, used or expired)");
      return redirect(res, `${SIGN_IN_PATH}?link=invalid`);
    }
    redirect(res, "/", {
      "set-cookie": sessionCookie(session.token, new Date(session.expiresAt), isTls(req, deps.publicUrl)),
    });
  } catch (error) {
    sendError(res, error, deps.logger, "/auth/link");
  }
}

/**
 * `POST /auth/sign-out`: ends the session server-side (on every replica at once) and clears
 * the cookie. Guarded like any cookie-authenticated change (another site cannot sign you out).
 */
export async function signOut(req: IncomingMessage, res: ServerResponse, deps: SignInDeps): Promise<void> {
  req.resume();
  const refused = crossSiteRefusal(req);
  if (refused) return sendError(res, refused, deps.logger, "/auth/sign-out");
  try {
    const token = sessionTokenFrom(req.headers.cookie);
    if (token !== undefined) await deps.services.webSessions.end(token);
    res.writeHead(204, {
      "set-cookie": sessionCookie("", new Date(0), isTls(req, deps.publicUrl)),
      "cache-control": "no-store",
    });
    res.end();
  } catch (error) {
    sendError(res, error, deps.logger, "/auth/sign-out");
  }
}
