import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { ApiKeyService } from "../api-keys/api-key-service.js";
import {
  LOGIN_LINK_TTL_MS,
  SPENT_SIGN_IN_KEEP_MS,
  WEB_SESSION_TTL_MS,
  WebSessionService,
} from "./web-session-service.js";

let db: TestDatabase;
let clock: Date;
let keys: ApiKeyService;
let web: WebSessionService;

beforeAll(async () => {
  db = await createTestDatabase();
  keys = new ApiKeyService({ knex: db.knex, now: () => clock }, { verifyCacheMs: 0 });
  web = new WebSessionService({ knex: db.knex, now: () => clock });
});
afterAll(() => db.destroy());
beforeEach(async () => {
  clock = new Date("2026-06-01T12:00:00Z");
  await db.knex("api_keys").del();
});

const later = (ms: number) => new Date(clock.getTime() + ms);

describe("WebSessionService", () => {
  it("a login link opens one session with its key's scopes; the link works once", async () => {
    const { key } = await keys.create({ name: "reader", scopes: ["read"] });
    const link = await web.createLoginLink(key.id);
    expect(link.token).toMatch(/^lbl_[A-Za-z0-9_-]{43}$/);
    expect(link.expiresAt).toBe(later(LOGIN_LINK_TTL_MS).toISOString());

    const session = await web.redeemLoginLink(link.token);
    expect(session?.token).toMatch(/^lbs_[A-Za-z0-9_-]{43}$/);
    expect(session?.expiresAt).toBe(later(WEB_SESSION_TTL_MS).toISOString());
    expect(await web.verify(expectDefined(session).token)).toMatchObject({
      id: key.id,
      name: "reader",
      scopes: ["read"],
    });

    expect(await web.redeemLoginLink(link.token)).toBeNull();
  });

  it("stores only hashes of the link and session secrets", async () => {
    const { key } = await keys.create({ name: "k", scopes: ["read"] });
    const link = await web.createLoginLink(key.id);
    const session = await web.redeemLoginLink(link.token);
    const rows = JSON.stringify([await db.knex("login_links"), await db.knex("web_sessions")]);
    expect(rows).not.toContain(link.token.slice(4));
    expect(rows).not.toContain(expectDefined(session).token.slice(4));
  });

  it("two redemptions racing on one link open one session", async () => {
    const { key } = await keys.create({ name: "k", scopes: ["read"] });
    const link = await web.createLoginLink(key.id);
    const results = await Promise.all(Array.from({ length: 5 }, () => web.redeemLoginLink(link.token)));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await db.knex("web_sessions").count({ n: "*" }).first()).toEqual({ n: 1 });
  });

  it("a link is refused once its two minutes are over", async () => {
    const { key } = await keys.create({ name: "k", scopes: ["read"] });
    const link = await web.createLoginLink(key.id);
    clock = later(LOGIN_LINK_TTL_MS);
    expect(await web.redeemLoginLink(link.token)).toBeNull();
  });

  it("refuses malformed and unknown tokens without a session", async () => {
    for (const bad of ["", "lbl_short", `lbs_${"a".repeat(43)}`, `lbl_${"a".repeat(43)}`]) {
      expect(await web.redeemLoginLink(bad)).toBeNull();
    }
    expect(await web.verify(`lbl_${"a".repeat(43)}`)).toBeNull();
    expect(await web.verify(`lbs_${"a".repeat(43)}`)).toBeNull();
    expect(await web.end("nonsense")).toBe(false);
  });

  it("sign-out ends the session at once", async () => {
    const { key } = await keys.create({ name: "k", scopes: ["read", "ingest"] });
    const session = await web.redeemLoginLink((await web.createLoginLink(key.id)).token);
    expect(await web.end(expectDefined(session).token)).toBe(true);
    expect(await web.verify(expectDefined(session).token)).toBeNull();
    expect(await web.end(expectDefined(session).token)).toBe(false);
  });

  it("a session expires after its time, and never outlives its key", async () => {
    const { key } = await keys.create({ name: "k", scopes: ["read"] });
    const session = await web.redeemLoginLink((await web.createLoginLink(key.id)).token);
    clock = later(WEB_SESSION_TTL_MS);
    expect(await web.verify(expectDefined(session).token)).toBeNull();

    clock = new Date("2026-06-01T12:00:00Z");
    const shortKey = await keys.create({
      name: "short",
      scopes: ["read"],
      expiresAt: later(60 * 60_000).toISOString(),
    });
    const short = await web.redeemLoginLink((await web.createLoginLink(shortKey.key.id)).token);
    expect(short?.expiresAt).toBe(shortKey.key.expiresAt);
    expect(await web.verify(expectDefined(short).token)).toMatchObject({ expiresAt: shortKey.key.expiresAt });
  });

  it("revoking the key ends its sessions and voids its unused links", async () => {
    const { key } = await keys.create({ name: "k", scopes: ["admin"] });
    const session = await web.redeemLoginLink((await web.createLoginLink(key.id)).token);
    const unused = await web.createLoginLink(key.id);
    await keys.revoke({ id: key.id });
    expect(await web.verify(expectDefined(session).token)).toBeNull();
    expect(await web.redeemLoginLink(unused.token)).toBeNull();
  });

  it("purges links and sessions a day after they stopped working, and nothing still usable", async () => {
    const { key } = await keys.create({ name: "k", scopes: ["read"] });
    const count = async () => ({
      links: Number((await db.knex("login_links").count({ n: "*" }).first())?.n),
      sessions: Number((await db.knex("web_sessions").count({ n: "*" }).first())?.n),
    });
    const start = clock;
    // Made now: an unused link, a used one (its session open), a session signed out now.
    await web.createLoginLink(key.id);
    const open = expectDefined(await web.redeemLoginLink((await web.createLoginLink(key.id)).token));
    const signedOut = expectDefined(await web.redeemLoginLink((await web.createLoginLink(key.id)).token));
    expect(await web.end(signedOut.token)).toBe(true);
    expect(await count()).toEqual({ links: 3, sessions: 2 });

    // An hour later: the open session works, nothing has been spent for a day, nothing goes.
    clock = new Date(start.getTime() + 60 * 60_000);
    expect(await web.verify(open.token)).not.toBeNull();
    expect(await web.purgeExpired()).toEqual({ loginLinks: 0, webSessions: 0 });
    expect(await web.verify(open.token)).not.toBeNull();

    // A day after the links expired and the sign-out: those go; the session that expired
    // since (its 12 hours are over) is kept for its day.
    clock = new Date(start.getTime() + LOGIN_LINK_TTL_MS + SPENT_SIGN_IN_KEEP_MS + 1000);
    expect(await web.purgeExpired()).toEqual({ loginLinks: 3, webSessions: 1 });
    expect(await count()).toEqual({ links: 0, sessions: 1 });

    // A day after that session expired: it goes too; a second run finds nothing.
    clock = new Date(start.getTime() + WEB_SESSION_TTL_MS + SPENT_SIGN_IN_KEEP_MS + 1000);
    expect(await web.purgeExpired()).toEqual({ loginLinks: 0, webSessions: 1 });
    expect(await web.purgeExpired()).toEqual({ loginLinks: 0, webSessions: 0 });
    expect(await count()).toEqual({ links: 0, sessions: 0 });
  });
});
