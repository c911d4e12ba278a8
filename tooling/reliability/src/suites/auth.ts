import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import type { Knex } from "@logbook/db";
import type { TestServer } from "@logbook/server/testing";

import { bearer, callProcedure, streamedServerError } from "../lib/http.js";
import { listProcedures, type Access } from "../lib/procedures.js";
import { runLimited } from "../lib/stats.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

export interface AuthOptions {
  server: TestServer;
  knex: Knex;
  log?: (line: string) => void;
}

export interface AuthCaseResult {
  procedure: string;
  case: string;
  expected: number;
  status: number;
  problem?: string;
}

export interface AuthReport {
  procedures: number;
  requests: number;
  /** Cases whose status was not the expected 401/403 (or 200 for public), or whose body said too much. */
  failures: AuthCaseResult[];
  byCase: Record<string, { requests: number; ok: number }>;
  keysAtRest: { columns: string[]; keysChecked: number; secretFoundInTable: boolean; hashIsSha256OfKey: boolean };
  timingSafeCompare: { file: string; line: number; code: string } | null;
  /** A key in use, revoked through the API of the same server: refused on the next call. */
  revokedThroughApiRefusedAtOnce: boolean;
  /** A key in use, revoked with `logbook-server keys revoke` (another process): ms until refused. */
  revokedThroughCliRefusedAfterMs: number | null;
  durationMs: number;
}

const SENTINEL_INPUT = "SENTINEL_INPUT_7f3a";
const SENTINEL_DATA = "SENTINEL_DATA_91c2";
const ALLOWED_ERROR_KEYS = new Set(["message", "code", "data"]);
const ALLOWED_DATA_KEYS = new Set(["code", "httpStatus", "path", "appCode"]);

/** What each access level answers for a key that has only these scopes. */
function wrongScopes(access: Access): Array<{ label: string; scopes: Array<"ingest" | "read" | "admin"> }> {
  if (access === "read") return [{ label: "ingest-only key", scopes: ["ingest"] }];
  if (access === "ingest") return [{ label: "read-only key", scopes: ["read"] }];
  if (access === "admin") return [{ label: "ingest+read key", scopes: ["ingest", "read"] }];
  return [];
}

/** Checks that an error body carries the refusal and nothing else. */
function bodyProblem(body: string, secrets: string[]): string | undefined {
  for (const s of [SENTINEL_INPUT, SENTINEL_DATA, ...secrets])
    if (body.includes(s)) return `body contains ${s.slice(0, 12)}…`;
  let parsed: unknown;
  // SSE: the refusal is the `data:` line after `event: serialized-error`.
  const sse = /event: serialized-error\ndata: (.*)\n/.exec(body);
  const json = sse ? sse[1] : body;
  try {
    parsed = JSON.parse(json ?? "");
  } catch {
    return "body is not JSON";
  }
  const error = (parsed as { error?: Record<string, unknown> }).error ?? (parsed as Record<string, unknown>);
  const extra = Object.keys(error).filter((k) => !ALLOWED_ERROR_KEYS.has(k));
  if (extra.length > 0) return `error has ${extra.join(",")}`;
  const data = (error.data ?? {}) as Record<string, unknown>;
  const extraData = Object.keys(data).filter((k) => !ALLOWED_DATA_KEYS.has(k));
  if (extraData.length > 0) return `error.data has ${extraData.join(",")}`;
  return undefined;
}

/**
 * The auth matrix over every procedure: no key, malformed keys, an unknown key, a revoked
 * key, an expired-looking key, and a key without the scope. Then the api_keys table (are
 * secrets stored?) and where the key comparison is done.
 */
export async function runAuth(options: AuthOptions): Promise<AuthReport> {
  const started = performance.now();
  const { server } = options;
  const procedures = listProcedures();
  const admin = await server.createKey(["admin"], "auth-admin");
  const keys = {
    ingest: await server.createKey(["ingest"], "auth-ingest"),
    read: await server.createKey(["read"], "auth-read"),
    ingestRead: await server.createKey(["ingest", "read"], "auth-ingest-read"),
    revoked: await server.createKey(["admin"], "auth-revoked"),
  };
  // Seed a row the refused calls would reach if auth let them through.
  const session = await callProcedure(
    server.url,
    "sessions.create",
    "mutation",
    JSON.stringify({ externalId: SENTINEL_DATA, title: SENTINEL_DATA }),
    bearer(admin),
  );
  const sessionId = (JSON.parse(session.body) as { result: { data: { id: string } } }).result.data.id;
  const listed = await server.runCommand(["keys", "list", "--json"]);
  const revokedId = expectDefined(
    (JSON.parse(listed.stdout) as Array<{ id: string; name: string }>).find((k) => k.name === "auth-revoked"),
  ).id;
  const revoke = await server.runCommand(["keys", "revoke", revokedId]);
  if (revoke.code !== 0) throw new Error(`keys revoke failed: ${revoke.stderr}`);

  const input = JSON.stringify({ id: sessionId, sessionId, externalId: SENTINEL_DATA, note: SENTINEL_INPUT });
  // `lbk_<12 hex>_<secret>`: the secret is base64url, which may itself hold "_".
  const secretOf = (k: string) => k.slice("lbk_".length + 12 + 1);
  const secrets = [admin, ...Object.values(keys)].map(secretOf);
  type Case = {
    procedure: (typeof procedures)[number];
    label: string;
    headers: Record<string, string>;
    expected: number;
  };
  const cases: Case[] = [];
  for (const procedure of procedures) {
    const refusal = procedure.access === "public" ? 200 : 401;
    const add = (label: string, headers: Record<string, string>, expected: number) =>
      cases.push({ procedure, label, headers, expected });
    add("no key", {}, refusal);
    add("malformed: Basic", { authorization: "Basic dXNlcjpwYXNz" }, refusal);
    add("malformed: Bearer only", { authorization: "Bearer" }, refusal);
    add("malformed: not a key", { authorization: `Bearer ${SENTINEL_INPUT}` }, refusal);
    add("malformed: SQL", { authorization: "Bearer lbk_' OR 1=1 --" }, refusal);
    add("unknown key", { authorization: "Bearer lbk_0123456789ab_" + "A".repeat(43) }, refusal);
    add("right prefix, wrong secret", { authorization: `Bearer ${admin.slice(0, 17)}${"B".repeat(43)}` }, refusal);
    add("revoked key", bearer(keys.revoked), refusal);
    for (const wrong of wrongScopes(procedure.access)) {
      const key = wrong.scopes.length === 2 ? keys.ingestRead : wrong.scopes[0] === "ingest" ? keys.ingest : keys.read;
      add(wrong.label, bearer(key), 403);
    }
  }

  const report: AuthReport = {
    procedures: procedures.length,
    requests: 0,
    failures: [],
    byCase: {},
    keysAtRest: { columns: [], keysChecked: 0, secretFoundInTable: false, hashIsSha256OfKey: false },
    timingSafeCompare: null,
    revokedThroughApiRefusedAtOnce: false,
    revokedThroughCliRefusedAfterMs: null,
    durationMs: 0,
  };
  await runLimited(cases, 4, async (c) => {
    const isPublic = c.procedure.access === "public";
    const response = await callProcedure(
      server.url,
      c.procedure.path,
      c.procedure.kind,
      isPublic ? undefined : input,
      c.headers,
    );
    report.requests += 1;
    const tally = (report.byCase[c.label] ??= { requests: 0, ok: 0 });
    tally.requests += 1;
    // A subscription's refusal may come inside the stream (tRPC SSE): read its httpStatus there.
    let status = response.status;
    if (c.procedure.kind === "subscription" && status === 200) {
      const inStream = /"httpStatus":(\d{3})/.exec(response.body);
      if (inStream) status = Number(inStream[1]);
    }
    let problem: string | undefined;
    if (status !== c.expected)
      problem = `status ${status}${streamedServerError(response.body) ? " (5xx in stream)" : ""}`;
    else if (c.expected !== 200) problem = bodyProblem(response.body, secrets);
    if (problem)
      report.failures.push({ procedure: c.procedure.path, case: c.label, expected: c.expected, status, problem });
    else tally.ok += 1;
  });

  // Keys at rest: no stored column holds a secret; the hash is SHA-256 of the whole key.
  const rows = await options.knex.raw<{ rows: Array<Record<string, unknown>> }>("SELECT * FROM api_keys");
  report.keysAtRest.columns = Object.keys(rows.rows[0] ?? {});
  const dump = JSON.stringify(rows.rows);
  const all = [admin, ...Object.values(keys)];
  report.keysAtRest.keysChecked = all.length;
  report.keysAtRest.secretFoundInTable = all.some((k) => dump.includes(k) || dump.includes(secretOf(k)));
  report.keysAtRest.hashIsSha256OfKey = all.every((k) => {
    const prefix = k.slice(4, 16);
    const row = rows.rows.find((r) => r.prefix === prefix);
    return row !== undefined && row.key_hash === createHash("sha256").update(k).digest("hex");
  });
  report.timingSafeCompare = findTimingSafeCompare();

  // Revoking a key that is in use (the server caches verified keys for a few seconds).
  const whoami = (key: string) => callProcedure(server.url, "auth.whoami", "query", undefined, bearer(key));
  const keyList = async () =>
    JSON.parse((await server.runCommand(["keys", "list", "--json"])).stdout) as Array<{ id: string; name: string }>;
  const apiRevoked = await server.createKey(["read"], "auth-revoked-api");
  await whoami(apiRevoked);
  const apiRevokedId = expectDefined((await keyList()).find((k) => k.name === "auth-revoked-api")).id;
  await callProcedure(server.url, "apiKeys.revoke", "mutation", JSON.stringify({ id: apiRevokedId }), bearer(admin));
  report.revokedThroughApiRefusedAtOnce = (await whoami(apiRevoked)).status === 401;
  const cliRevoked = await server.createKey(["read"], "auth-revoked-cli");
  await whoami(cliRevoked);
  await server.runCommand([
    "keys",
    "revoke",
    expectDefined((await keyList()).find((k) => k.name === "auth-revoked-cli")).id,
  ]);
  const revokedAt = performance.now();
  for (let i = 0; i < 150; i++) {
    if ((await whoami(cliRevoked)).status === 401) {
      report.revokedThroughCliRefusedAfterMs = Math.round(performance.now() - revokedAt);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  report.durationMs = performance.now() - started;
  return report;
}

/** Where the key check compares hashes (read from the source: the suite reports it, a person reads it). */
export function findTimingSafeCompare(): AuthReport["timingSafeCompare"] {
  const relative = "packages/core/src/api-keys/api-key-service.ts";
  const url = new URL(`../../../../${relative}`, import.meta.url);
  const lines = readFileSync(url, "utf8").split("\n");
  const index = lines.findIndex((l) => l.includes("timingSafeEqual(") && !l.trim().startsWith("import"));
  return index < 0 ? null : { file: relative, line: index + 1, code: expectDefined(lines[index]).trim() };
}
