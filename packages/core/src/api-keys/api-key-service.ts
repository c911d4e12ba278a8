import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

import {
  API_KEY_SCOPES,
  type ApiKey,
  type ApiKeyScope,
  type CreateApiKeyInput,
  type CreatedApiKey,
  type IdInput,
} from "@logbook/contracts";
import { ADVISORY_LOCKS, ApiKeyModel, type Knex } from "@logbook/db";

import { clockOf, type CoreDeps } from "../deps.js";
import { AppError, invalidInput, notFound, toAppError } from "../errors.js";
import { API_KEYS_CHANNEL } from "../live/notify.js";
import { iso } from "../time.js";

/** Who a verified key belongs to and what it may do. */
/** Who a verified key is; `expiresAt` lets holders of long-lived streams close them on time. */
export type ApiKeyPrincipal = Pick<ApiKey, "id" | "name" | "scopes" | "expiresAt">;

/**
 * `lbk_<prefix>_<secret>`: the prefix (12 lowercase hex characters, 48 random bits) finds
 * the row and may be shown and logged; the secret (32 random bytes, base64url, 43
 * characters) never is. Longer secrets are accepted so the format can grow.
 */
const KEY_PATTERN = /^lbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43,128})$/;
const PREFIX_BYTES = 6;
const SECRET_BYTES = 32;
/** api_keys.name is limited to this many characters by the schema. */
const MAX_NAME_LENGTH = 200;
/** `last_used_at` is refreshed at most this often per key, so verifying costs no write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** The pg_advisory_xact_lock(namespace, key) pair that serialises bootstrap-key creation. */
export const BOOTSTRAP_KEY_LOCK = ADVISORY_LOCKS.bootstrapKey;

/**
 * A verified key is remembered this long by default, so a busy client costs no key lookup
 * per request. A revocation reaches every process at once (NOTIFY on `API_KEYS_CHANNEL`,
 * heard by each server's live bus, which calls `forgetKey`); this bounds how long a process
 * that missed it (its live connection down) keeps trusting the key.
 */
export const DEFAULT_VERIFY_CACHE_MS = 5_000;
const VERIFY_CACHE_SIZE = 1_000;

const KEY_COLUMNS = [
  "id",
  "name",
  "prefix",
  "scopes",
  "created_at",
  "last_used_at",
  "expires_at",
  "revoked_at",
] as const;

/** SHA-256 of the whole key string: the secret has 256 random bits, so no salt or slow hash is needed. */
function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

function toApiKeyDto(row: ApiKeyModel): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes as ApiKeyScope[],
    createdAt: iso(row.createdAt),
    lastUsedAt: iso(row.lastUsedAt),
    expiresAt: iso(row.expiresAt),
    revokedAt: iso(row.revokedAt),
  };
}

/** Scopes in their canonical order, each once. */
function normaliseScopes(scopes: readonly ApiKeyScope[]): ApiKeyScope[] {
  return API_KEY_SCOPES.filter((scope) => scopes.includes(scope));
}

/**
 * API keys: created with a secret that is shown once, stored as a hash, listed without
 * it, revoked, and verified on every request.
 */
export class ApiKeyService {
  /** Recently verified keys by SHA-256 of the presented string (never the secret itself). */
  private readonly verified = new Map<
    string,
    { principal: ApiKeyPrincipal; until: number; expiresAt: number | null }
  >();
  /**
   * Bumped by every `forgetKey`/`forgetAll`. A verification caches its answer only when no
   * revocation was heard while it read the key: otherwise a lookup that read the row just
   * before the revocation committed could cache the key again after it was forgotten.
   */
  private forgetCount = 0;

  private readonly verifyCacheMs: number;

  constructor(
    private readonly deps: CoreDeps,
    options: { verifyCacheMs?: number } = {},
  ) {
    this.verifyCacheMs = options.verifyCacheMs ?? DEFAULT_VERIFY_CACHE_MS;
  }

  /** Creates a key; the returned `secret` is the only time it is ever shown. */
  async create(input: CreateApiKeyInput): Promise<CreatedApiKey> {
    return this.insertKey(this.deps.knex, input);
  }

  /** Every key, newest first (revoked and expired ones too), never with its secret or hash. */
  async list(): Promise<ApiKey[]> {
    const rows = await ApiKeyModel.query(this.deps.knex)
      .select(KEY_COLUMNS)
      .orderBy([
        { column: "created_at", order: "desc" },
        { column: "id", order: "desc" },
      ]);
    return rows.map(toApiKeyDto);
  }

  /** Revokes a key for good. Revoking it again changes nothing (the first revocation time stays). */
  async revoke(input: IdInput): Promise<ApiKey> {
    const now = clockOf(this.deps)();
    const row = await this.deps.knex.transaction(async (trx) => {
      const [updated] = await trx("api_keys")
        .where("id", input.id)
        .update({ revoked_at: trx.raw("coalesce(revoked_at, ?::timestamptz)", [now]) })
        .returning<Record<string, unknown>[]>(KEY_COLUMNS);
      if (!updated) throw notFound("API key", input.id);
      // Delivered on commit to every listening process (other replicas, and servers when
      // the CLI revokes), which drop the key from their verify cache.
      await trx.raw("SELECT pg_notify(?, ?)", [API_KEYS_CHANNEL, input.id]);
      return updated;
    });
    this.forgetKey(input.id);
    return toApiKeyDto(ApiKeyModel.fromDatabaseJson(row));
  }

  /** Drops a key's cached verification: its next use asks the database again. */
  forgetKey(keyId: string): void {
    this.forgetCount += 1;
    for (const [hash, entry] of this.verified) if (entry.principal.id === keyId) this.verified.delete(hash);
  }

  /** Drops every cached verification (after missing revocation notices, e.g. a lost live connection). */
  forgetAll(): void {
    this.forgetCount += 1;
    this.verified.clear();
  }

  /**
   * The key's owner and scopes when this process verified `presented` a moment ago (its
   * cached verification, within `verifyCacheMs`, not forgotten, not expired); else null,
   * without asking the database. A key that verified is no guess: the auth throttle lets it
   * through without counting.
   */
  remembered(presented: string): ApiKeyPrincipal | null {
    if (KEY_PATTERN.exec(presented)?.[1] === undefined) return null;
    const now = clockOf(this.deps)().getTime();
    const cached = this.verified.get(hashKey(presented));
    if (cached && cached.until > now && (cached.expiresAt === null || cached.expiresAt > now)) return cached.principal;
    return null;
  }

  /**
   * The key's owner and scopes when `presented` is a valid, unrevoked, unexpired key;
   * otherwise null (the caller answers 401 without saying why). A malformed string never
   * reaches the database.
   */
  async verify(presented: string): Promise<ApiKeyPrincipal | null> {
    const forgetCountAtStart = this.forgetCount;
    const prefix = KEY_PATTERN.exec(presented)?.[1];
    if (prefix === undefined) return null;
    const now = clockOf(this.deps)();
    const hash = hashKey(presented);
    const cached = this.verified.get(hash);
    if (cached && cached.until > now.getTime() && (cached.expiresAt === null || cached.expiresAt > now.getTime())) {
      return cached.principal;
    }
    this.verified.delete(hash);
    const row = await ApiKeyModel.query(this.deps.knex)
      .select("id", "name", "scopes", "key_hash", "last_used_at", "expires_at", "revoked_at")
      .where("prefix", prefix)
      .first();
    if (!row) return null;

    const presentedHash = Buffer.from(hash, "hex");
    const storedHash = Buffer.from(row.keyHash, "hex");
    if (storedHash.length !== presentedHash.length || !timingSafeEqual(presentedHash, storedHash)) return null;

    if (row.revokedAt !== null) return null;
    if (row.expiresAt !== null && row.expiresAt.getTime() <= now.getTime()) return null;

    if (row.lastUsedAt === null || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
      // The condition is repeated in SQL so that concurrent requests write once between them.
      const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
      await ApiKeyModel.query(this.deps.knex)
        .patch({ lastUsedAt: now })
        .where("id", row.id)
        .where((q) => void q.whereNull("last_used_at").orWhere("last_used_at", "<=", staleBefore));
    }
    const principal = {
      id: row.id,
      name: row.name,
      scopes: row.scopes as ApiKeyScope[],
      expiresAt: row.expiresAt?.toISOString() ?? null,
    };
    if (this.verifyCacheMs === 0 || this.forgetCount !== forgetCountAtStart) return principal;
    const oldest = this.verified.keys().next();
    if (this.verified.size >= VERIFY_CACHE_SIZE && !oldest.done) this.verified.delete(oldest.value);
    this.verified.set(hash, {
      principal,
      until: now.getTime() + this.verifyCacheMs,
      expiresAt: row.expiresAt?.getTime() ?? null,
    });
    return principal;
  }

  /**
   * Which of `ids` still verify (not revoked, not expired). For a server whose live
   * connection came back: revocation notices sent meanwhile were lost, so the holders of
   * open streams are checked again.
   */
  async activeKeyIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const now = clockOf(this.deps)();
    const rows = (await this.deps
      .knex("api_keys")
      .select("id")
      .whereIn("id", ids)
      .whereNull("revoked_at")
      .where((q) => void q.whereNull("expires_at").orWhere("expires_at", ">", now))) as Array<{ id: string }>;
    return new Set(rows.map((row) => row.id));
  }

  /** Keys that verify today: not revoked, not expired. */
  async countActive(): Promise<number> {
    return this.countActiveIn(this.deps.knex);
  }

  /**
   * The first-start key: when no active key exists at all, creates one and returns it
   * (with its secret), else null. Two servers starting at once on one database create
   * one key between them: the check and the insert run under a transaction-scoped
   * advisory lock.
   */
  async ensureBootstrapKey(name: string, scopes: ApiKeyScope[]): Promise<CreatedApiKey | null> {
    return this.deps.knex.transaction(async (trx) => {
      await trx.raw("SELECT pg_advisory_xact_lock(?, ?)", [BOOTSTRAP_KEY_LOCK.namespace, BOOTSTRAP_KEY_LOCK.key]);
      if ((await this.countActiveIn(trx)) > 0) return null;
      return this.insertKey(trx, { name, scopes });
    });
  }

  private async countActiveIn(knex: Knex): Promise<number> {
    const now = clockOf(this.deps)();
    const row = (await knex("api_keys")
      .count({ count: "*" })
      .whereNull("revoked_at")
      .where((q) => void q.whereNull("expires_at").orWhere("expires_at", ">", now))
      .first()) as { count: number | string } | undefined;
    return Number(row?.count ?? 0);
  }

  private async insertKey(knex: Knex, input: CreateApiKeyInput): Promise<CreatedApiKey> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
      throw invalidInput(`an API key name must be 1 to ${MAX_NAME_LENGTH} characters`, { field: "name" });
    }
    const scopes = normaliseScopes(input.scopes);
    if (scopes.length === 0) throw invalidInput("give at least one scope", { field: "scopes" });
    const now = clockOf(this.deps)();
    const expiresAt = input.expiresAt === undefined ? null : new Date(input.expiresAt);
    if (expiresAt !== null && expiresAt.getTime() <= now.getTime()) {
      throw invalidInput("expiresAt must be in the future", { field: "expiresAt" });
    }

    // 48 random bits make a prefix collision rare; when one happens, draw again. ON
    // CONFLICT rather than catching the error, so this also works inside a transaction.
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const prefix = randomBytes(PREFIX_BYTES).toString("hex");
      const secret = `lbk_${prefix}_${randomBytes(SECRET_BYTES).toString("base64url")}`;
      let rows: Record<string, unknown>[];
      try {
        rows = await knex("api_keys")
          .insert({ name, prefix, key_hash: hashKey(secret), scopes, created_at: now, expires_at: expiresAt })
          .onConflict("prefix")
          .ignore()
          .returning<Record<string, unknown>[]>(KEY_COLUMNS);
      } catch (error) {
        throw toAppError(error) ?? error;
      }
      const [row] = rows;
      if (row) return { key: toApiKeyDto(ApiKeyModel.fromDatabaseJson(row)), secret };
    }
    throw new AppError("CONFLICT", "could not draw a unique API key prefix, try again");
  }
}
