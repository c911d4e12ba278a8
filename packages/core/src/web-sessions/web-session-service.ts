import { createHash, randomBytes } from "node:crypto";

import type { ApiKeyScope } from "@logbook/contracts";

import type { ApiKeyPrincipal } from "../api-keys/api-key-service.js";
import { clockOf, type CoreDeps } from "../deps.js";
import { iso } from "../time.js";

/** A login link works once, and only this long after it was made (issue 17: two minutes). */
export const LOGIN_LINK_TTL_MS = 2 * 60_000;
/** A browser stays signed in this long at most (never past its key's own expiry). */
export const WEB_SESSION_TTL_MS = 12 * 60 * 60_000;
/**
 * Used and expired links, and ended and expired web sessions, are kept this long (to tell
 * "already used" or "signed out" from "never existed" when reading logs), then purged.
 */
export const SPENT_SIGN_IN_KEEP_MS = 24 * 60 * 60_000;

/**
 * `lbl_<secret>` (a login link) and `lbs_<secret>` (a web session): 32 random bytes,
 * base64url. The prefix says what a leaked string is; a malformed one never reaches the
 * database.
 */
const LINK_PATTERN = /^lbl_[A-Za-z0-9_-]{43}$/;
const SESSION_PATTERN = /^lbs_[A-Za-z0-9_-]{43}$/;

function newSecret(kind: "lbl" | "lbs"): string {
  return `${kind}_${randomBytes(32).toString("base64url")}`;
}

/** SHA-256: the secrets carry 256 random bits, so no salt or slow hash is needed (as for API keys). */
function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A web session, once verified: the key it acts for (its scopes) and the session's own id. */
export interface WebSessionPrincipal extends ApiKeyPrincipal {
  sessionId: string;
}

/** A secret and when it stops working. */
export interface IssuedToken {
  token: string;
  expiresAt: string;
}

/**
 * The dashboard's sign-in: single-use login links made by any valid key, redeemed for a
 * web session that acts with that key's scopes for as long as the key stays valid. Only
 * hashes are stored; a revoked or expired key ends its sessions at once (every check
 * joins the key).
 */
export class WebSessionService {
  constructor(private readonly deps: CoreDeps) {}

  /** A new login link for `keyId` (the caller's verified key). */
  async createLoginLink(keyId: string): Promise<IssuedToken> {
    const now = clockOf(this.deps)();
    const token = newSecret("lbl");
    const expiresAt = new Date(now.getTime() + LOGIN_LINK_TTL_MS);
    await this.deps.knex("login_links").insert({
      key_id: keyId,
      token_hash: hashToken(token),
      created_at: now,
      expires_at: expiresAt,
    });
    return { token, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Deletes the login links and web sessions that can no longer be used and were last of use
   * more than `SPENT_SIGN_IN_KEEP_MS` ago: links past their expiry (used or not, a link never
   * outlives it), sessions past their expiry or ended by a sign-out. Run on a schedule by the
   * server. Plain idempotent deletes, so replicas running it at once need no lock: a row goes
   * once, the other statement finds it gone.
   */
  async purgeExpired(): Promise<{ loginLinks: number; webSessions: number }> {
    const before = new Date(clockOf(this.deps)().getTime() - SPENT_SIGN_IN_KEEP_MS);
    const loginLinks = await this.deps.knex("login_links").where("expires_at", "<", before).delete();
    const webSessions = await this.deps
      .knex("web_sessions")
      .where((q) => void q.where("expires_at", "<", before).orWhere("ended_at", "<", before))
      .delete();
    return { loginLinks, webSessions };
  }

  /**
   * Spends a login link and opens a web session for its key; null when the link is
   * unknown, used, expired, or its key no longer verifies. Two browsers racing on one link
   * get one session between them (the spend is one conditional UPDATE).
   */
  async redeemLoginLink(linkToken: string): Promise<IssuedToken | null> {
    if (!LINK_PATTERN.test(linkToken)) return null;
    const now = clockOf(this.deps)();
    return this.deps.knex.transaction(async (trx) => {
      const [spent] = await trx("login_links")
        .where({ token_hash: hashToken(linkToken) })
        .whereNull("used_at")
        .where("expires_at", ">", now)
        .update({ used_at: now })
        .returning<Array<{ key_id: string }>>(["key_id"]);
      if (!spent) return null;
      const key = (await trx("api_keys")
        .select("expires_at")
        .where("id", spent.key_id)
        .whereNull("revoked_at")
        .where((q) => void q.whereNull("expires_at").orWhere("expires_at", ">", now))
        .first()) as { expires_at: Date | null } | undefined;
      if (!key) return null;
      const longest = now.getTime() + WEB_SESSION_TTL_MS;
      const expiresAt = new Date(Math.min(longest, key.expires_at?.getTime() ?? longest));
      const token = newSecret("lbs");
      await trx("web_sessions").insert({
        key_id: spent.key_id,
        token_hash: hashToken(token),
        created_at: now,
        expires_at: expiresAt,
      });
      return { token, expiresAt: expiresAt.toISOString() };
    });
  }

  /** The session's key when `sessionToken` names an open, unexpired session whose key still verifies; else null. */
  async verify(sessionToken: string): Promise<WebSessionPrincipal | null> {
    if (!SESSION_PATTERN.test(sessionToken)) return null;
    const now = clockOf(this.deps)();
    const row = (await this.deps
      .knex("web_sessions as s")
      .join("api_keys as k", "k.id", "s.key_id")
      .select("s.id as session_id", "s.expires_at", "k.id as key_id", "k.name", "k.scopes")
      .where("s.token_hash", hashToken(sessionToken))
      .whereNull("s.ended_at")
      .where("s.expires_at", ">", now)
      .whereNull("k.revoked_at")
      .where((q) => void q.whereNull("k.expires_at").orWhere("k.expires_at", ">", now))
      .first()) as
      { session_id: string; expires_at: Date; key_id: string; name: string; scopes: ApiKeyScope[] } | undefined;
    if (!row) return null;
    return {
      sessionId: row.session_id,
      id: row.key_id,
      name: row.name,
      scopes: row.scopes,
      // The session never outlives its key (capped at redemption), so this is the sooner end.
      expiresAt: iso(row.expires_at),
    };
  }

  /** Signs out: the session stops verifying at once, on every replica. False when it was not open. */
  async end(sessionToken: string): Promise<boolean> {
    if (!SESSION_PATTERN.test(sessionToken)) return false;
    const now = clockOf(this.deps)();
    const ended = await this.deps
      .knex("web_sessions")
      .where({ token_hash: hashToken(sessionToken) })
      .whereNull("ended_at")
      .update({ ended_at: now });
    return ended > 0;
  }
}
