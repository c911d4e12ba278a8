/**
 * The dashboard's server side (issue 17): its files at `/` (long-cached hashed assets,
 * `index.html` for client routes, the API untouched), and sign-in through a single-use login
 * link to an HttpOnly, SameSite=Strict cookie session with the key's scopes, guarded against
 * cross-site writes, ended server-side by sign-out. A small stand-in build is served here
 * (LOGBOOK_WEB_ROOT); the real app is driven in a browser by apps/web's e2e suite.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { startHarness, type Harness } from "./harness.js";

let h: Harness;
let webRoot: string;
const INDEX = "<!doctype html><title>Logbook</title><script type=module src=/assets/app-3f2a1b.js></script>";
const SCRIPT = `console.log(${JSON.stringify("x".repeat(2_000))});`;

beforeAll(async () => {
  webRoot = await mkdtemp(join(tmpdir(), "logbook-web-"));
  await mkdir(join(webRoot, "assets"));
  await writeFile(join(webRoot, "index.html"), INDEX);
  await writeFile(join(webRoot, "assets", "app-3f2a1b.js"), SCRIPT);
  await writeFile(join(webRoot, "assets", "app-3f2a1b.js.gz"), gzipSync(SCRIPT));
  // The purge runs often here so that its test waits little; it only takes what a day is past use.
  h = await startHarness({ env: { LOGBOOK_WEB_ROOT: webRoot, WEB_SESSION_PURGE_INTERVAL_MS: "200" } });
}, 120_000);
afterAll(async () => {
  await h?.stop();
  await rm(webRoot, { recursive: true, force: true });
});

/** Opens a login link as a browser would, without following the redirect. */
async function openLink(url: string): Promise<Response> {
  return fetch(url, { redirect: "manual" });
}

/** Signs in with a new key of these scopes; returns the cookie pair to send back. */
async function signIn(scopes: Array<"ingest" | "read" | "admin">): Promise<string> {
  const link = await h.clientFor(await h.server.createKey(scopes)).auth.createLoginLink.mutate();
  const response = await openLink(link.url);
  expect(response.status).toBe(303);
  const setCookie = response.headers.get("set-cookie") ?? "";
  return expectDefined(setCookie.split(";")[0]);
}

const json = (cookie: string, extra: Record<string, string> = {}) => ({
  "content-type": "application/json",
  cookie,
  ...extra,
});

/** What a browser sends when it navigates to a page. */
const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

describe("dashboard files", () => {
  it("serves index.html at / and for client routes, revalidated, with a strict CSP", async () => {
    for (const path of ["/", "/sessions/0190a0b0-0000-7000-8000-000000000000", "/usage"]) {
      const response = await fetch(`${h.server.url}${path}`, { headers: { accept: BROWSER_ACCEPT } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      expect(response.headers.get("cache-control")).toBe("no-cache");
      expect(response.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(await response.text()).toBe(INDEX);
    }
  });

  it("answers a program (no text/html in Accept) with a 404 for a path that is not there, / with the app", async () => {
    for (const path of ["/usage", "/some/path/trpc/sessions.list,stats.overview"]) {
      const response = await fetch(`${h.server.url}${path}?batch=1`);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    }
    const root = await fetch(`${h.server.url}/`);
    expect([root.status, await root.text()]).toEqual([200, INDEX]);
  });

  it("serves hashed assets for a year, gzipped to clients that take it; a missing one is a 404", async () => {
    const response = await fetch(`${h.server.url}/assets/app-3f2a1b.js`, { headers: { "accept-encoding": "gzip" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("content-encoding")).toBe("gzip");
    expect(await response.text()).toBe(SCRIPT);
    const missing = await fetch(`${h.server.url}/assets/app-old.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });

  it("leaves the API and health where they were", async () => {
    expect((await fetch(`${h.server.url}/health`)).status).toBe(200);
    const unauthorised = await fetch(`${h.server.url}/trpc/auth.whoami`);
    expect(unauthorised.status).toBe(401);
    const unknown = await fetch(`${h.server.url}/trpc/no.such`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/json/);
  });
});

describe("sign-in by login link", () => {
  it("a link sets an HttpOnly SameSite=Strict cookie and sends the browser to /; it works once", async () => {
    const link = await h.client.auth.createLoginLink.mutate();
    expect(link.url).toBe(`${h.server.url}${link.path}`);
    expect(Date.parse(link.expiresAt) - Date.now()).toBeLessThanOrEqual(120_000);

    const first = await openLink(link.url);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/");
    expect(first.headers.get("referrer-policy")).toBe("no-referrer");
    const cookie = first.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^logbook_session=lbs_[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).not.toContain("Secure"); // plain http here: Secure only behind TLS

    const again = await openLink(link.url);
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/sign-in?link=invalid");
    expect(again.headers.get("set-cookie")).toBeNull();
    expect((await openLink(`${h.server.url}/auth/link?token=lbl_nonsense`)).headers.get("location")).toBe(
      "/sign-in?link=invalid",
    );
  });

  it("the cookie acts with the key's scopes; writes need the CSRF header and this origin", async () => {
    await h.client.ingest([{ externalSessionId: "web-pin", eventType: "note" }]);
    const session = await h.client.sessions.get.query({ externalId: "web-pin" });
    const body = JSON.stringify({ id: session.id, pinned: true });
    const writer = await signIn(["ingest", "read"]);

    const whoami = await fetch(`${h.server.url}/trpc/auth.whoami`, { headers: { cookie: writer } });
    expect(whoami.status).toBe(200);

    const noHeader = await fetch(`${h.server.url}/trpc/sessions.update`, {
      method: "POST",
      headers: json(writer),
      body,
    });
    expect(noHeader.status).toBe(403);
    expect(JSON.stringify(await noHeader.json())).toContain("x-logbook-csrf");
    const otherSite = await fetch(`${h.server.url}/trpc/sessions.update`, {
      method: "POST",
      headers: json(writer, { "x-logbook-csrf": "1", origin: "https://evil.example" }),
      body,
    });
    expect(otherSite.status).toBe(403);
    expect((await h.client.sessions.get.query({ id: session.id })).pinned).toBe(false);

    const ok = await fetch(`${h.server.url}/trpc/sessions.update`, {
      method: "POST",
      headers: json(writer, { "x-logbook-csrf": "1", origin: h.server.url }),
      body,
    });
    expect(ok.status).toBe(200);
    expect((await h.client.sessions.get.query({ id: session.id })).pinned).toBe(true);

    const reader = await signIn(["read"]);
    const readOnly = await fetch(`${h.server.url}/trpc/sessions.update`, {
      method: "POST",
      headers: json(reader, { "x-logbook-csrf": "1" }),
      body: JSON.stringify({ id: session.id, label: "mine" }),
    });
    expect(readOnly.status).toBe(403);
  });

  it("sign-out ends the session on the server and clears the cookie; another site cannot sign you out", async () => {
    const cookie = await signIn(["read"]);
    const forged = await fetch(`${h.server.url}/auth/sign-out`, { method: "POST", headers: { cookie } });
    expect(forged.status).toBe(403);
    expect((await fetch(`${h.server.url}/trpc/auth.whoami`, { headers: { cookie } })).status).toBe(200);

    const out = await fetch(`${h.server.url}/auth/sign-out`, {
      method: "POST",
      headers: { cookie, "x-logbook-csrf": "1" },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^logbook_session=;.*Expires=Thu, 01 Jan 1970/);
    // The old cookie, replayed, no longer works: the session ended server-side.
    const after = await fetch(`${h.server.url}/trpc/auth.whoami`, { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(JSON.stringify(await after.json())).toContain("sign in again");
  });

  it("revoking the key ends its browser sessions", async () => {
    const secret = await h.server.createKey(["read"], "to-revoke");
    const link = await h.clientFor(secret).auth.createLoginLink.mutate();
    const cookie = expectDefined(expectDefined((await openLink(link.url)).headers.get("set-cookie")).split(";")[0]);
    const keyId = (await h.clientFor(secret).auth.whoami.query()).keyId;
    await h.admin.apiKeys.revoke.mutate({ id: keyId });
    expect((await fetch(`${h.server.url}/trpc/auth.whoami`, { headers: { cookie } })).status).toBe(401);
  });
});

describe("spent sign-ins", () => {
  // Its own budget: each sign-in makes a key through the CLI (a child process), slow on a loaded machine.
  it("the server purges login links and sessions a day past use on its schedule, and keeps the rest", async () => {
    const signedOut = await signIn(["read"]);
    const out = await fetch(`${h.server.url}/auth/sign-out`, {
      method: "POST",
      headers: { cookie: signedOut, "x-logbook-csrf": "1" },
    });
    expect(out.status).toBe(204);
    const open = await signIn(["read"]);
    const count = async (table: "login_links" | "web_sessions") =>
      Number((await h.db.knex(table).count({ n: "*" }).first())?.n);
    const sessionsBefore = await count("web_sessions");
    const linksBefore = await count("login_links");
    // Move the sign-out and one link's expiry two days back: now they are a day past use.
    const day = "interval '2 days'";
    const moved = await h.db
      .knex("web_sessions")
      .whereNotNull("ended_at")
      .update({
        ended_at: h.db.knex.raw(`ended_at - ${day}`),
      });
    expect(moved).toBeGreaterThanOrEqual(1);
    const [link] = await h.db.knex("login_links").orderBy("created_at").limit(1).pluck<string[]>("id");
    await h.db
      .knex("login_links")
      .where({ id: expectDefined(link) })
      .update({ expires_at: h.db.knex.raw(`expires_at - ${day}`) });

    await expect.poll(() => count("web_sessions"), { timeout: 60_000 }).toBe(sessionsBefore - moved);
    await expect.poll(() => count("login_links"), { timeout: 60_000 }).toBe(linksBefore - 1);
    expect((await fetch(`${h.server.url}/trpc/auth.whoami`, { headers: { cookie: open } })).status).toBe(200);
  }, 300_000);
});
