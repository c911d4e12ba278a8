/**
 * The auth matrix, for every procedure the API has: no key, a malformed header, a revoked
 * key and a key without the scope are refused (401/403) with nothing but the refusal;
 * the right scope gets past auth. The expected scope of each procedure is written out
 * here (and in packages/api/README.md): a procedure missing from this table fails the test.
 */
import { appRouter } from "@logbook/api";
import { LogbookError, type LogbookClient } from "@logbook/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startHarness, type Harness } from "./harness.js";

type Access = "public" | "any" | "ingest" | "read" | "admin";

const EXPECTED: Record<string, Access> = {
  "health.check": "public",
  "auth.whoami": "any",
  "auth.createLoginLink": "any",
  "sessions.create": "ingest",
  "sessions.get": "read",
  "sessions.list": "read",
  "sessions.update": "ingest",
  "sessions.transition": "ingest",
  "sessions.needsYou": "read",
  "sessions.tree": "read",
  "sessions.setArchived": "ingest",
  "sessions.delete": "admin",
  "sessions.onChange": "read",
  "sessions.export": "read",
  "events.ingest": "ingest",
  "events.listForSession": "read",
  "events.listSummariesForSession": "read",
  "events.get": "read",
  "events.listRecent": "read",
  "events.countsByType": "read",
  "events.onEvent": "read",
  "events.search": "read",
  "hooks.ingest": "ingest",
  "messages.append": "ingest",
  "messages.list": "read",
  "files.upsert": "ingest",
  "files.get": "read",
  "files.delete": "ingest",
  "files.list": "read",
  "steps.create": "ingest",
  "steps.start": "ingest",
  "steps.complete": "ingest",
  "steps.fail": "ingest",
  "steps.skip": "ingest",
  "steps.cancel": "ingest",
  "steps.list": "read",
  "artifacts.create": "ingest",
  "artifacts.list": "read",
  "projects.upsert": "ingest",
  "projects.get": "read",
  "projects.list": "read",
  "projects.locks.acquire": "ingest",
  "projects.locks.renew": "ingest",
  "projects.locks.release": "ingest",
  "projects.locks.inspect": "read",
  "jobs.enqueue": "ingest",
  "jobs.claim": "ingest",
  "jobs.complete": "ingest",
  "jobs.fail": "ingest",
  "jobs.extendLease": "ingest",
  "jobs.get": "read",
  "jobs.list": "read",
  "jobs.cancel": "admin",
  "jobs.recoverExpiredLeases": "admin",
  "stats.activeSessions": "read",
  "stats.eventCounts": "read",
  "stats.toolUsage": "read",
  "stats.tokenTotals": "read",
  "stats.overview": "read",
  "usage.report": "read",
  "usage.prices": "read",
  "usage.reprice": "admin",
  "retention.run": "admin",
  "telemetry.metrics": "read",
  "telemetry.usage": "read",
  "sessionStore.append": "ingest",
  "sessionStore.load": "read",
  "sessionStore.list": "read",
  "sessionStore.listSubkeys": "read",
  "sessionStore.delete": "admin",
  "apiKeys.create": "admin",
  "apiKeys.list": "admin",
  "apiKeys.revoke": "admin",
  "webhooks.create": "admin",
  "webhooks.list": "admin",
  "webhooks.get": "admin",
  "webhooks.update": "admin",
  "webhooks.remove": "admin",
  "webhooks.test": "admin",
  "webhooks.deliveries": "admin",
};

type Kind = "query" | "mutation" | "subscription";
type Outcome = { ok: true } | { ok: false; error: LogbookError };

const procedures: Array<{ path: string; kind: Kind }> = Object.entries(appRouter._def.procedures).map(
  ([path, procedure]) => ({
    path,
    kind: (procedure as unknown as { _def: { type: Kind } })._def.type,
  }),
);

/**
 * Calls a procedure by its path; auth runs before input parsing, so `{}` serves for all.
 * A subscription counts as allowed once it delivers something: after it has started, a
 * probe event is ingested (every stream here sees new events or new sessions).
 */
async function call(client: LogbookClient, path: string, kind: Kind, input: unknown): Promise<Outcome> {
  // The SDK proxy is typed per procedure; here the path is data, so walk it untyped.
  const node = path.split(".").reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], client) as {
    query(input: unknown): Promise<unknown>;
    mutate(input: unknown): Promise<unknown>;
    subscribe(
      input: unknown,
      handlers: { onStarted(): void; onData(data: unknown): void; onError(error: unknown): void },
    ): { unsubscribe(): void };
  };
  try {
    if (kind === "query") await node.query(input);
    else if (kind === "mutation") await node.mutate(input);
    else {
      return await new Promise<Outcome>((resolve) => {
        let settled = false;
        let probe: NodeJS.Timeout | undefined;
        const settle = (outcome: Outcome) => {
          if (settled) return;
          settled = true;
          clearInterval(probe);
          queueMicrotask(() => subscription.unsubscribe());
          resolve(outcome);
        };
        const subscription = node.subscribe(input, {
          onStarted() {
            // "Started" comes before the stream's first item; probe until something arrives.
            const send = () => {
              void h.admin.sessions.create.mutate({ title: "probe" }).catch(() => undefined);
              void h.admin
                .ingest([{ externalSessionId: `probe-${Math.random()}`, eventType: "probe" }])
                .catch(() => undefined);
            };
            send();
            probe = setInterval(send, 250);
          },
          onData: () => settle({ ok: true }),
          onError: (error) => settle({ ok: false, error: LogbookError.from(error) }),
        });
      });
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, error: LogbookError.from(error) };
  }
}

let h: Harness;
const clients = {} as Record<"none" | "malformed" | "revoked" | "ingest" | "read" | "admin", LogbookClient>;

beforeAll(async () => {
  // Hundreds of refused keys from one address: the throttle (limits.test.ts) would answer 429.
  h = await startHarness({ env: { AUTH_FAILURE_LIMIT: "0" } });
  clients.none = h.clientFor("unused", {
    // Drops the Authorization header the SDK always sends: a request with no key at all.
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      headers.delete("authorization");
      return fetch(input, { ...init, headers });
    },
  });
  clients.malformed = h.clientFor("two words");
  const revoked = await h.admin.apiKeys.create.mutate({ name: "to-revoke", scopes: ["ingest", "read", "admin"] });
  await h.admin.apiKeys.revoke.mutate({ id: revoked.key.id });
  clients.revoked = h.clientFor(revoked.secret);
  clients.ingest = h.clientFor(
    (await h.admin.apiKeys.create.mutate({ name: "ingest-only", scopes: ["ingest"] })).secret,
  );
  clients.read = h.clientFor((await h.admin.apiKeys.create.mutate({ name: "read-only", scopes: ["read"] })).secret);
  clients.admin = h.admin;
});
afterAll(() => h?.stop());

/** A refusal says what is wrong and nothing else: no result, no details, no issues. */
function expectBareRefusal(outcome: Outcome, code: "UNAUTHORIZED" | "FORBIDDEN", path: string): void {
  expect(outcome.ok, `${path} should be refused`).toBe(false);
  if (outcome.ok) return;
  expect(outcome.error.code, path).toBe(code);
  expect(outcome.error.httpStatus, path).toBe(code === "UNAUTHORIZED" ? 401 : 403);
  expect(outcome.error.details).toBeNull();
  expect(outcome.error.issues).toEqual([]);
  expect(Object.keys(outcome.error.data ?? {}).sort(), path).toEqual(["appCode", "code", "httpStatus", "path"]);
}

describe("auth matrix", () => {
  it("covers every procedure of the router", () => {
    expect(procedures.map((p) => p.path).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const { path, kind } of procedures) {
    const access = EXPECTED[path] ?? "admin";
    it(`${path} (${kind}, ${access})`, async () => {
      if (access === "public") {
        for (const client of [clients.none, clients.malformed, clients.revoked]) {
          const outcome = await call(client, path, kind, undefined);
          expect(outcome.ok, outcome.ok ? "" : outcome.error.message).toBe(true);
        }
        return;
      }
      for (const who of ["none", "malformed", "revoked"] as const) {
        expectBareRefusal(await call(clients[who], path, kind, {}), "UNAUTHORIZED", `${path} as ${who}`);
      }
      const lacking =
        access === "ingest" ? ["read"] : access === "read" ? ["ingest"] : access === "admin" ? ["ingest", "read"] : [];
      for (const who of lacking as Array<"ingest" | "read">) {
        expectBareRefusal(await call(clients[who], path, kind, {}), "FORBIDDEN", `${path} as ${who}`);
      }
      const allowed = access === "any" ? (["ingest", "read", "admin"] as const) : ([access, "admin"] as const);
      for (const who of allowed) {
        const outcome = await call(clients[who], path, kind, {});
        // Past auth: success, or a refusal of the (empty) input, never 401/403.
        if (!outcome.ok)
          expect([401, 403], `${path} as ${who}: ${outcome.error.message}`).not.toContain(outcome.error.httpStatus);
      }
    });
  }
});
