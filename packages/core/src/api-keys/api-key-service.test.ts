import { createHash, randomUUID } from "node:crypto";

import { apiKey as apiKeySchema, createdApiKey } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import pg from "pg";
// Brings in the `inject()` keys that @logbook/db/testing reads (declared beside its global setup).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "@logbook/vitest-config/wait-for";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { API_KEYS_CHANNEL } from "../live/notify.js";
import { ApiKeyService, BOOTSTRAP_KEY_LOCK } from "./api-key-service.js";

let db: TestDatabase;
let clock: Date;
let keys: ApiKeyService;

beforeAll(async () => {
  db = await createTestDatabase();
  keys = new ApiKeyService({ knex: db.knex, now: () => clock });
});
afterAll(() => db.destroy());
beforeEach(async () => {
  clock = new Date("2026-06-01T12:00:00Z");
  await db.knex("api_keys").del();
});

/** Counts statements sent on this Knex while `fn` runs. */
async function countQueries(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (query: { sql: string }) => seen.push(query.sql);
  db.knex.on("query", listener);
  try {
    await fn();
  } finally {
    db.knex.off("query", listener);
  }
  return seen;
}

describe("ApiKeyService", () => {
  it("activeKeyIds: which keys still verify (for re-checking open streams after missed notices)", async () => {
    const kept = await keys.create({ name: "kept", scopes: ["read"] });
    const revoked = await keys.create({ name: "revoked", scopes: ["read"] });
    const expiring = await keys.create({ name: "expiring", scopes: ["read"], expiresAt: "2026-06-01T13:00:00Z" });
    await keys.revoke({ id: revoked.key.id });
    const ids = [kept.key.id, revoked.key.id, expiring.key.id];
    expect(await keys.activeKeyIds(ids)).toEqual(new Set([kept.key.id, expiring.key.id]));
    clock = new Date("2026-06-01T13:00:00Z");
    expect(await keys.activeKeyIds(ids)).toEqual(new Set([kept.key.id]));
    expect(await keys.activeKeyIds([])).toEqual(new Set());
  });

  it("creates a key whose secret has the documented shape and is shown once", async () => {
    const created = await keys.create({ name: "ci", scopes: ["read", "ingest", "read"] });
    expect(createdApiKey.parse(created)).toEqual(created);
    expect(created.secret).toMatch(/^lbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.secret.startsWith(`lbk_${created.key.prefix}_`)).toBe(true);
    expect(created.key).toMatchObject({
      name: "ci",
      scopes: ["ingest", "read"],
      revokedAt: null,
      lastUsedAt: null,
      expiresAt: null,
    });
    expect(await keys.verify(created.secret)).toEqual({
      id: created.key.id,
      name: "ci",
      scopes: ["ingest", "read"],
      expiresAt: null,
    });
  });

  it("stores only the SHA-256 of the key, never the secret", async () => {
    const { key, secret } = await keys.create({ name: "hash", scopes: ["admin"] });
    const row = (await db.knex("api_keys").where("id", key.id).first()) as Record<string, unknown>;
    expect(row.key_hash).toBe(createHash("sha256").update(secret).digest("hex"));
    const secretPart = secret.slice(`lbk_${key.prefix}_`.length);
    expect(JSON.stringify(row)).not.toContain(secretPart);
  });

  it("lists keys newest first without the hash or the secret", async () => {
    const first = await keys.create({ name: "first", scopes: ["read"] });
    clock = new Date("2026-06-02T12:00:00Z");
    const second = await keys.create({ name: "second", scopes: ["ingest"], expiresAt: "2027-01-01T00:00:00Z" });
    const listed = await keys.list();
    expect(listed.map((k) => k.id)).toEqual([second.key.id, first.key.id]);
    for (const item of listed) {
      expect(Object.keys(item).sort()).toEqual(Object.keys(apiKeySchema.shape).sort());
      expect(JSON.stringify(item)).not.toContain(second.secret.slice(17));
    }
    expect(listed[0]?.expiresAt).toBe("2027-01-01T00:00:00.000Z");
  });

  it("revokes a key: it stops verifying, a second revoke keeps the first time, an unknown id is NOT_FOUND", async () => {
    const { key, secret } = await keys.create({ name: "gone", scopes: ["read"] });
    const revoked = await keys.revoke({ id: key.id });
    expect(revoked.revokedAt).toBe("2026-06-01T12:00:00.000Z");
    expect(await keys.verify(secret)).toBeNull();
    clock = new Date("2026-06-05T12:00:00Z");
    expect((await keys.revoke({ id: key.id })).revokedAt).toBe("2026-06-01T12:00:00.000Z");
    await expect(keys.revoke({ id: randomUUID() })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await keys.countActive()).toBe(0);
  });

  it("rejects an expired key, and refuses to create one that is already expired", async () => {
    const { secret } = await keys.create({ name: "short", scopes: ["read"], expiresAt: "2026-06-01T13:00:00Z" });
    expect(await keys.verify(secret)).not.toBeNull();
    expect(await keys.countActive()).toBe(1);
    clock = new Date("2026-06-01T13:00:00Z");
    expect(await keys.verify(secret)).toBeNull();
    expect(await keys.countActive()).toBe(0);
    await expect(
      keys.create({ name: "past", scopes: ["read"], expiresAt: "2026-06-01T12:59:59Z" }),
    ).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
  });

  it("rejects a wrong secret with a right prefix, and a right secret with a wrong prefix", async () => {
    const { key, secret } = await keys.create({ name: "k", scopes: ["read"] });
    const otherSecret = "A".repeat(43);
    expect(await keys.verify(`lbk_${key.prefix}_${otherSecret}`)).toBeNull();
    const flipped = secret.slice(0, -1) + (secret.endsWith("A") ? "B" : "A");
    expect(await keys.verify(flipped)).toBeNull();
    const tail = secret.slice(`lbk_${key.prefix}_`.length);
    const otherPrefix = key.prefix === "000000000000" ? "000000000001" : "000000000000";
    expect(await keys.verify(`lbk_${otherPrefix}_${tail}`)).toBeNull();
    expect(await keys.verify(secret)).not.toBeNull();
  });

  it("returns null for malformed strings without touching the database", async () => {
    const { secret } = await keys.create({ name: "k", scopes: ["read"] });
    const malformed = [
      "",
      "Bearer " + secret,
      secret.toUpperCase(),
      secret + " ",
      secret.replace("lbk_", "lbx_"),
      `lbk_abc_${"a".repeat(43)}`,
      `lbk_${"a".repeat(12)}_short`,
      `lbk_${"a".repeat(12)}_${"a".repeat(5000)}`,
      `lbk_${"a".repeat(12)}_${"a".repeat(42)}!`,
    ];
    const queries = await countQueries(async () => {
      for (const value of malformed) expect(await keys.verify(value)).toBeNull();
    });
    expect(queries).toEqual([]);
  });

  it("updates last_used_at at most once a minute per key", async () => {
    const { key, secret } = await keys.create({ name: "busy", scopes: ["read"] });
    const firstUse = await countQueries(() => keys.verify(secret));
    expect(firstUse.filter((sql) => sql.startsWith("update"))).toHaveLength(1);
    const lastUsed = async () => (await keys.list()).find((k) => k.id === key.id)?.lastUsedAt;
    expect(await lastUsed()).toBe("2026-06-01T12:00:00.000Z");

    clock = new Date("2026-06-01T12:00:59Z");
    const soon = await countQueries(async () => {
      for (let i = 0; i < 5; i += 1) expect(await keys.verify(secret)).not.toBeNull();
    });
    expect(soon.filter((sql) => sql.startsWith("update"))).toHaveLength(0);
    expect(await lastUsed()).toBe("2026-06-01T12:00:00.000Z");

    // Verified keys are cached for 5 s, so the next lookup (and refresh) comes after that.
    clock = new Date("2026-06-01T12:01:05Z");
    await keys.verify(secret);
    expect(await lastUsed()).toBe("2026-06-01T12:01:05.000Z");
  });

  it("answers repeated verifications from memory, and forgets a key the moment it is revoked", async () => {
    const { key, secret } = await keys.create({ name: "cached", scopes: ["ingest"] });
    expect(await keys.verify(secret)).not.toBeNull();
    const again = await countQueries(async () => {
      for (let i = 0; i < 3; i += 1) expect(await keys.verify(secret)).toMatchObject({ id: key.id });
    });
    expect(again).toHaveLength(0);
    await keys.revoke({ id: key.id });
    expect(await keys.verify(secret)).toBeNull();
    // A wrong secret with the right prefix is never served from the cache.
    expect(await keys.verify(secret.slice(0, -2) + (secret.endsWith("AA") ? "BB" : "AA"))).toBeNull();
  });

  it("announces a revocation on commit, so another process's cached key can be forgotten", async () => {
    // `other` stands for another server: it has the key cached and did not revoke it.
    const other = new ApiKeyService({ knex: db.knex, now: () => clock }, { verifyCacheMs: 600_000 });
    const { key, secret } = await keys.create({ name: "elsewhere", scopes: ["read"] });
    expect(await other.verify(secret)).toMatchObject({ id: key.id });

    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      const heard: string[] = [];
      listener.on("notification", (msg) => {
        if (msg.channel === API_KEYS_CHANNEL && msg.payload) heard.push(msg.payload);
      });
      await listener.query(`LISTEN ${API_KEYS_CHANNEL}`);
      await keys.revoke({ id: key.id });
      await expect.poll(() => heard, { timeout: 10_000 }).toEqual([key.id]);
    } finally {
      await listener.end();
    }
    // Until told, the other process trusts its cache (for up to its cache time)...
    expect(await other.verify(secret)).toMatchObject({ id: key.id });
    // ...and once told, it asks the database, which says no.
    other.forgetKey(key.id);
    expect(await other.verify(secret)).toBeNull();

    const second = await keys.create({ name: "second", scopes: ["read"] });
    expect(await other.verify(second.secret)).not.toBeNull();
    await db.knex("api_keys").where({ id: second.key.id }).update({ revoked_at: clock });
    other.forgetAll();
    expect(await other.verify(second.secret)).toBeNull();
  });

  it("does not cache a key read while a revocation was being heard", async () => {
    const other = new ApiKeyService({ knex: db.knex, now: () => clock }, { verifyCacheMs: 600_000 });
    const { key, secret } = await keys.create({ name: "racing", scopes: ["read"] });
    // The lookup reads the row before the revocation commits; the notice arrives meanwhile.
    const during = other.verify(secret);
    other.forgetKey(key.id);
    expect(await during).toMatchObject({ id: key.id });
    await db.knex("api_keys").where({ id: key.id }).update({ revoked_at: clock });
    // Had that answer been cached, the revoked key would still pass here.
    expect(await other.verify(secret)).toBeNull();
  });

  it("with a cache time of 0 asks the database on every verification", async () => {
    const uncached = new ApiKeyService({ knex: db.knex, now: () => clock }, { verifyCacheMs: 0 });
    const { secret } = await keys.create({ name: "uncached", scopes: ["read"] });
    const seen = await countQueries(async () => {
      for (let i = 0; i < 3; i += 1) expect(await uncached.verify(secret)).not.toBeNull();
    });
    expect(seen.filter((sql) => sql.includes('from "api_keys"') && sql.startsWith("select"))).toHaveLength(3);
  });

  it("gives a clear error for a name the schema cannot hold", async () => {
    await expect(keys.create({ name: "x".repeat(201), scopes: ["read"] })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
    expect(await db.knex("api_keys").count({ n: "*" }).first()).toEqual({ n: 0 });
  });

  it("creates a bootstrap key only when no active key exists, once even when two servers race", async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => keys.ensureBootstrapKey("local", ["ingest", "read"])),
    );
    const created = results.filter((r) => r !== null);
    expect(created).toHaveLength(1);
    expect(created[0]?.key.scopes).toEqual(["ingest", "read"]);
    expect(await keys.countActive()).toBe(1);
    expect(await keys.ensureBootstrapKey("local", ["ingest", "read"])).toBeNull();

    // Once every key is revoked, a new bootstrap key is made.
    await keys.revoke({ id: expectDefined(created[0]).key.id });
    const again = await keys.ensureBootstrapKey("local", ["read"]);
    expect(again).not.toBeNull();
    expect(await keys.verify(expectDefined(again).secret)).toMatchObject({ name: "local", scopes: ["read"] });
  });

  it("waits for a concurrent bootstrap that has not committed yet instead of creating a second key", async () => {
    const other = await db.knex.transaction();
    try {
      await other.raw("SELECT pg_advisory_xact_lock(?, ?)", [BOOTSTRAP_KEY_LOCK.namespace, BOOTSTRAP_KEY_LOCK.key]);
      await other("api_keys").insert({
        name: "other server",
        prefix: "0123456789ab",
        key_hash: "00".repeat(32),
        scopes: ["read"],
      });
      const pending = keys.ensureBootstrapKey("local", ["read"]);
      let settled = false;
      void pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      // Wait until our call is queued on the lock (or, were it not to wait, has finished).
      const queued = async () => {
        const waiting = await db
          .knex("pg_locks")
          .where({
            locktype: "advisory",
            granted: false,
            classid: BOOTSTRAP_KEY_LOCK.namespace,
            objid: BOOTSTRAP_KEY_LOCK.key,
          })
          .whereRaw("database = (SELECT oid FROM pg_database WHERE datname = current_database())")
          .count({ n: "*" })
          .first();
        return Number(waiting?.n) > 0;
      };
      await waitFor("our call queued on the lock (or finished)", async () => settled || (await queued()), {
        deadlineMs: 30_000,
        everyMs: 10,
      });
      await other.commit();
      expect(await pending).toBeNull();
      expect(await keys.countActive()).toBe(1);
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }
  });
});
