/**
 * The API reference in README.md is the contract people read: this checks that it lists
 * every procedure of the router, with its kind and the scope the procedure really
 * enforces (called through `createCaller` with keys of each scope, on a real database).
 */
import { readFileSync } from "node:fs";

import { createServices } from "@logbook/core";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { appRouter } from "./root.js";
import { createCallerFactory, type ApiDeps, type AuthInfo, type Context } from "./trpc.js";

type Access = "public" | "any" | "ingest" | "read" | "admin";
type Kind = "query" | "mutation" | "subscription";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const documented = new Map<string, { kind: Kind; access: Access }>(
  [...readme.matchAll(/^\| `([\w.]+)` \| (query|mutation|subscription) \| (public|any|ingest|read|admin) \|/gm)].map(
    (m) => [expectDefined(m[1]), { kind: m[2] as Kind, access: m[3] as Access }],
  ),
);

const procedures = Object.entries(appRouter._def.procedures).map(([path, procedure]) => ({
  path,
  kind: (procedure as unknown as { _def: { type: Kind } })._def.type,
}));

let db: TestDatabase;
let deps: ApiDeps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = {
    services: createServices({ knex: db.knex }),
    // Subscriptions are only called, never iterated, here: the bus is not reached.
    bus: {
      events: () => {
        throw new Error("not iterated in this test");
      },
      sessions: () => {
        throw new Error("not iterated in this test");
      },
    },
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    health: () =>
      Promise.resolve({
        status: "ok",
        version: "test",
        database: { reachable: true, migrationsCurrent: true, pendingMigrations: [], embedded: false },
        uptimeSeconds: 0,
      }),
  };
});
afterAll(() => db?.destroy());

const createCaller = createCallerFactory(appRouter);

function contextFor(scopes: AuthInfo["scopes"] | null): Context {
  return {
    ...deps,
    auth: scopes ? { keyId: "k", name: "test", scopes, expiresAt: null } : null,
    authProblem: scopes ? null : "missing",
    authVia: scopes ? "key" : null,
  };
}

/** The tRPC code a call ends with, or "OK". Auth runs before input parsing, so `{}` is enough. */
async function outcome(scopes: AuthInfo["scopes"] | null, path: string, kind: Kind): Promise<string> {
  const caller = createCaller(contextFor(scopes));
  const fn = path.split(".").reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], caller) as (
    input: unknown,
  ) => Promise<unknown>;
  try {
    await fn(kind === "subscription" ? {} : path === "health.check" ? undefined : {});
    return "OK";
  } catch (error) {
    return error instanceof TRPCError ? error.code : "THREW";
  }
}

describe("README API reference", () => {
  it("lists every procedure of the router, and nothing else, with its kind", () => {
    expect([...documented.keys()].sort()).toEqual(procedures.map((p) => p.path).sort());
    for (const { path, kind } of procedures) expect(documented.get(path)?.kind, path).toBe(kind);
  });

  it("states the scope each procedure enforces", async () => {
    for (const { path, kind } of procedures) {
      const access = documented.get(path)?.access;
      const refused = (code: string) => code === "UNAUTHORIZED" || code === "FORBIDDEN";
      const results = {
        none: await outcome(null, path, kind),
        ingest: await outcome(["ingest"], path, kind),
        read: await outcome(["read"], path, kind),
        admin: await outcome(["admin"], path, kind),
      };
      const actual: Access = !refused(results.none)
        ? "public"
        : !refused(results.ingest) && !refused(results.read)
          ? "any"
          : !refused(results.ingest)
            ? "ingest"
            : !refused(results.read)
              ? "read"
              : "admin";
      expect(refused(results.admin) && actual !== "public", `${path}: admin refused`).toBe(false);
      expect(actual, `${path}: ${JSON.stringify(results)}`).toBe(access);
    }
  });
});
