/**
 * Test-only: the whole API in process, on a real test database, called through
 * `createCaller` (no HTTP), so a router's rules are tested in milliseconds. The HTTP
 * end-to-end tests (apps/server/src/e2e) cover the transport.
 */
import type { ApiKeyScope } from "@logbook/contracts";
import { createServices, LiveBus, type Services } from "@logbook/core";
import { migrationStatus } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll } from "vitest";

import { describeError } from "./errors.js";
import { appRouter } from "./root.js";
import { createCallerFactory, createContextInner, type ApiDeps, type ApiLogger } from "./trpc.js";

const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;

export interface RouterTestKit {
  db: TestDatabase;
  services: Services;
  /** What the API logged, newest last. */
  logs: Array<{ level: string; obj: object; msg?: string | undefined }>;
  /** A caller holding a new key with these scopes (none: no key at all). */
  caller(scopes?: ApiKeyScope[]): Promise<Caller>;
  /** A caller signed in by a dashboard session secret (as the cookie carries it). */
  sessionCaller(sessionToken: string): Promise<Caller>;
  destroy(): Promise<void>;
}

export async function createRouterTestKit(): Promise<RouterTestKit> {
  const db = await createTestDatabase();
  const services = createServices({ knex: db.knex });
  const logs: RouterTestKit["logs"] = [];
  const record =
    (level: string) =>
    (obj: object, msg?: string): void => {
      logs.push({ level, obj, msg });
    };
  const logger: ApiLogger = {
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
  };
  // Not started: subscriptions are the end-to-end tests' business; nothing here listens.
  const bus = new LiveBus({ connectionString: db.url, knex: db.knex });
  const deps: ApiDeps = {
    services,
    bus,
    logger,
    publicUrl: "http://logbook.test:4680",
    health: async () => {
      const status = await migrationStatus(db.knex);
      return {
        status: status.current ? "ok" : "degraded",
        version: "test",
        database: {
          reachable: true,
          migrationsCurrent: status.current,
          pendingMigrations: status.pending,
          embedded: false,
        },
        uptimeSeconds: 0,
      };
    },
  };
  let keys = 0;
  return {
    db,
    services,
    logs,
    async caller(scopes) {
      if (scopes === undefined) return createCaller(await createContextInner(deps, undefined));
      keys += 1;
      const created = await services.apiKeys.create({ name: `test-${keys}`, scopes });
      return createCaller(await createContextInner(deps, `Bearer ${created.secret}`));
    },
    sessionCaller: async (sessionToken) =>
      createCaller(await createContextInner(deps, undefined, "unknown", sessionToken)),
    destroy: () => db.destroy(),
  };
}

/** What a call threw, for assertions on its code, message and `issues`. */
export async function callError(call: Promise<unknown>): Promise<{
  code: string;
  message: string;
  appCode?: string;
  issues?: Array<{ path: string; message: string; code: string }>;
}> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof TRPCError)) throw new Error(`expected a TRPCError, got ${String(error)}`);
  const described = describeError(error);
  return {
    code: described.code,
    message: described.message,
    ...(described.appCode ? { appCode: described.appCode } : {}),
    ...(described.issues ? { issues: described.issues } : {}),
  };
}

/**
 * For a router's test file: a kit on the file's own database, made before its tests and
 * dropped after them, and a caller with the ingest and read scopes. Read the fields inside
 * tests (they are set by `beforeAll`).
 */
export function setUpRouterTests(): { kit: RouterTestKit; ingest: Caller } {
  const state = {} as { kit: RouterTestKit; ingest: Caller };
  beforeAll(async () => {
    state.kit = await createRouterTestKit();
    state.ingest = await state.kit.caller(["ingest", "read"]);
  });
  afterAll(() => state.kit.destroy());
  return state;
}
