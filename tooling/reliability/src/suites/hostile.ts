import { randomUUID } from "node:crypto";

import type { Knex } from "@logbook/db";
import type { TestServer } from "@logbook/server/testing";
import fc from "fast-check";

import { hookHeaders, hookPayload, inputFor, serialise } from "../lib/arbitraries.js";
import { countDiff, rowCounts, tableFingerprint } from "../lib/cluster.js";
import { bearer, callProcedure, encodeBytes, rawRequest, streamedServerError, type RawResponse } from "../lib/http.js";
import { listProcedures, type ProcedureInfo } from "../lib/procedures.js";
import { runLimited } from "../lib/stats.js";

export interface HostileOptions {
  server: TestServer;
  /** Pool on the same database, for row counts and fingerprints. */
  knex: Knex;
  /** An admin key: fuzzed calls pass auth and reach input parsing and the services. */
  adminKey: string;
  /** A key with the read scope only (for the rejected-writes batch). */
  readKey: string;
  /** The server's BODY_LIMIT_BYTES (oversize bodies are a little above it). */
  bodyLimitBytes: number;
  runsPerProcedure: number;
  hookRuns: number;
  seed: number;
  concurrency?: number;
  log?: (line: string) => void;
}

export interface Finding {
  target: string;
  status: number;
  input: string;
  body: string;
}

export interface HostileReport {
  seed: number;
  procedures: number;
  requests: number;
  byStatus: Record<string, number>;
  /** 5xx answers, in the status or inside an SSE stream. Must be 0. */
  serverErrors: number;
  /** No HTTP answer at all (connection refused or reset). */
  networkErrors: number;
  /** No answer within the deadline. */
  hangs: number;
  /** Server process exits during the run. Must be 0. */
  crashes: number;
  /** Error bodies with a stack trace, a file path of the server or a key hash in them. */
  leaks: number;
  findings: Finding[];
  rejectedBatch: {
    requests: number;
    /** Requests of the batch that were not refused with a 4xx (each is listed). */
    notRefused: Array<{ target: string; status: number; body: string }>;
    changedTables: string[];
    contentUnchanged: boolean;
  };
  durationMs: number;
}

const LEAK = /\bat [^\s]+ \(|node_modules|\/src\/[\w/-]+\.ts|"stack"|key_hash|\bpg_catalog\b/g;

/**
 * Whether an error body shows something of the server's own (a stack frame, a source path, a
 * key hash…). What the client sent and the message repeats (an id like "/repo/src/index.ts"
 * that was not found) is not a leak.
 */
export function leaksInternals(body: string, input: string | Buffer | undefined): boolean {
  const sent = input === undefined ? "" : typeof input === "string" ? input : input.toString("latin1");
  for (const [found] of body.matchAll(LEAK)) if (!sent.includes(found)) return true;
  return false;
}

function excerpt(input: string | Buffer | undefined): string {
  const text = input === undefined ? "(none)" : typeof input === "string" ? input : `bytes:${input.toString("latin1")}`;
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

/**
 * Fuzzes every procedure's input, `POST /hooks/claude-code` and the export download with fast-check, then
 * sends a batch of requests that must all be refused and checks they wrote nothing.
 */
export async function runHostile(options: HostileOptions): Promise<HostileReport> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const { url } = options.server;
  const procedures = listProcedures();
  const report: HostileReport = {
    seed: options.seed,
    procedures: procedures.length,
    requests: 0,
    byStatus: {},
    serverErrors: 0,
    networkErrors: 0,
    hangs: 0,
    crashes: 0,
    leaks: 0,
    findings: [],
    rejectedBatch: { requests: 0, notRefused: [], changedTables: [], contentUnchanged: true },
    durationMs: 0,
  };
  const pidAtStart = options.server.pid;

  const note = (target: string, input: string | Buffer | undefined, response: RawResponse) => {
    report.requests += 1;
    const key = response.timedOut ? "timeout" : response.networkError ? "network" : String(response.status);
    report.byStatus[key] = (report.byStatus[key] ?? 0) + 1;
    if (response.timedOut) report.hangs += 1;
    if (response.networkError) report.networkErrors += 1;
    const fivexx = response.status >= 500 || streamedServerError(response.body);
    if (fivexx) report.serverErrors += 1;
    const leaked = response.status >= 400 && leaksInternals(response.body, input);
    if (leaked) report.leaks += 1;
    if ((fivexx || leaked || response.timedOut || response.networkError) && report.findings.length < 40) {
      report.findings.push({
        target,
        status: response.status,
        input: excerpt(input),
        body: response.networkError ? `network error: ${response.networkError}` : response.body.slice(0, 500),
      });
    }
  };

  // 1. Every procedure, through its own transport (GET query, POST mutation, SSE).
  type Job = { procedure: ProcedureInfo; input: unknown; batch: boolean; index: number };
  const jobs: Job[] = [];
  procedures.forEach((procedure, p) => {
    const inputs = fc.sample(inputFor(procedure.inputs), { numRuns: options.runsPerProcedure, seed: options.seed + p });
    inputs.forEach((input, index) => jobs.push({ procedure, input, batch: index % 10 === 9, index }));
  });
  log(`hostile: ${jobs.length} procedure calls over ${procedures.length} procedures`);
  await runLimited(jobs, options.concurrency ?? 4, async ({ procedure, input, batch, index }) => {
    const body = serialise(input, index);
    const headers = bearer(options.adminKey);
    let response: RawResponse;
    if (batch && procedure.kind !== "subscription") {
      // tRPC's batch format: `{"0": input, "1": input}` on `/trpc/a,a?batch=1`.
      const text = typeof body === "string" ? body : body.toString("latin1");
      const batchText = `{"0":${text},"1":${text}}`;
      const raw = typeof body === "string" ? batchText : Buffer.from(batchText, "latin1");
      const target = `${url}/trpc/${procedure.path},${procedure.path}?batch=1`;
      response =
        procedure.kind === "mutation"
          ? await rawRequest({
              method: "POST",
              url: target,
              headers: { ...headers, "content-type": "application/json" },
              body: raw,
            })
          : await rawRequest({ method: "GET", url: `${target}&input=${encodeBytes(raw)}`, headers });
      note(`${procedure.path} (batch)`, raw, response);
      return;
    }
    response = await callProcedure(
      url,
      procedure.path,
      procedure.kind,
      procedure.inputs.length === 0 && input === undefined ? undefined : body,
      headers,
    );
    note(procedure.path, body, response);
  });

  // 2. The raw hook endpoint: payloads, headers, raw bytes, oversize and malformed bodies.
  const hookInputs = fc.sample(fc.tuple(hookPayload, hookHeaders, fc.integer({ min: 0, max: 19 })), {
    numRuns: options.hookRuns,
    seed: options.seed + 1_000,
  });
  log(`hostile: ${hookInputs.length} hook posts`);
  await runLimited(hookInputs, options.concurrency ?? 4, async ([payload, headers, variant], index) => {
    let body: string | Buffer = serialise(payload, index);
    if (variant === 0) body = "{not json";
    else if (variant === 1)
      body = Buffer.concat([
        Buffer.from('{"session_id":"'),
        Buffer.from([0xff, 0xfe, 0x00]),
        Buffer.from('","hook_event_name":"Stop"}'),
      ]);
    else if (variant === 2)
      body = `{"session_id":"s","hook_event_name":"Stop","pad":"${"x".repeat(options.bodyLimitBytes)}"}`;
    else if (variant === 3) body = "";
    else if (variant === 4) body = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const response = await rawRequest({
      method: "POST",
      url: `${url}/hooks/claude-code`,
      headers: { ...bearer(options.adminKey), "content-type": "application/json", ...headers },
      body,
    });
    note("POST /hooks/claude-code", body, response);
  });

  // 2b. The export download: odd ids (encodings, traversal, NUL, not UUIDs), formats and methods.
  const sessionIds = (
    await options.knex.raw<{ rows: Array<{ id: string }> }>("SELECT id FROM sessions ORDER BY id LIMIT 5")
  ).rows.map((row) => row.id);
  const exportId = fc.oneof(
    fc.constantFrom(...sessionIds, randomUUID(), "..%2F..%2Fetc%2Fpasswd", "%00", "%E0%A4%A", "a%2Fb", ""),
    fc.uuid(),
    fc.string({ unit: "binary", maxLength: 80 }).map(encodeURIComponent),
  );
  const exportFormat = fc.oneof(fc.constantFrom("md", "json", "jsonl", "", "MD", "pdf"), fc.string({ maxLength: 20 }));
  const exportInputs = fc.sample(
    fc.tuple(
      exportId,
      exportFormat,
      fc.constantFrom("GET", "GET", "HEAD", "POST", "DELETE"),
      // Merged over the admin key: some replace it (a bad key, an empty one, a cookie alone).
      fc.constantFrom<Record<string, string>>(
        {},
        { authorization: "Bearer lbk_junk" },
        { authorization: "" },
        { cookie: "logbook_session=lbs_forged; logbook_session=" },
        { cookie: "%%%;;=" },
        { range: "bytes=0-10", "if-none-match": "*" },
      ),
    ),
    { numRuns: Math.max(50, Math.floor(options.hookRuns / 4)), seed: options.seed + 2_000 },
  );
  log(`hostile: ${exportInputs.length} export downloads`);
  await runLimited(exportInputs, options.concurrency ?? 4, async ([id, format, method, headers]) => {
    const target = `/export/sessions/${id}?format=${encodeURIComponent(format)}`;
    const response = await rawRequest({
      method,
      url: `${url}${target}`,
      headers: { ...bearer(options.adminKey), ...headers },
    });
    note(`${method} /export/sessions/:id`, target, response);
  });

  // 3. A streamed (chunked, no Content-Length) oversize body: cut off at the limit, not buffered.
  for (const target of ["/hooks/claude-code", "/trpc/events.ingest"]) {
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const limit = options.bodyLimitBytes * 2;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= limit) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await rawRequest({
      method: "POST",
      url: `${url}${target}`,
      headers: { ...bearer(options.adminKey), "content-type": "application/json" },
      body: stream,
    });
    note(`${target} (chunked oversize)`, "(stream)", response);
  }

  // 4. Requests that must all be refused: none of them may write anything.
  const batch = rejectedRequests(procedures, options);
  const countsBefore = await rowCounts(options.knex);
  const fingerprintBefore = await tableFingerprint(options.knex);
  for (const request of batch) {
    const response = await request.send(url);
    note(request.target, request.excerpt, response);
    report.rejectedBatch.requests += 1;
    if (!(response.status >= 400 && response.status < 500))
      report.rejectedBatch.notRefused.push({
        target: request.target,
        status: response.status,
        body: response.body.slice(0, 300),
      });
  }
  const countsAfter = await rowCounts(options.knex);
  report.rejectedBatch.changedTables = countDiff(countsBefore, countsAfter);
  report.rejectedBatch.contentUnchanged = fingerprintBefore === (await tableFingerprint(options.knex));

  const exit = options.server.exit;
  if (exit !== null || options.server.pid !== pidAtStart) report.crashes += 1;
  const health = await rawRequest({ method: "GET", url: `${url}/health` });
  if (health.status !== 200) report.crashes += exit === null ? 1 : 0;
  report.durationMs = performance.now() - started;
  return report;
}

interface PlannedRequest {
  target: string;
  excerpt: string;
  send(url: string): Promise<RawResponse>;
}

/** Writes that must be refused (bad input, no key, wrong scope, bad body): each must answer 4xx and write nothing. */
function rejectedRequests(procedures: ProcedureInfo[], options: HostileOptions): PlannedRequest[] {
  const out: PlannedRequest[] = [];
  const admin = bearer(options.adminKey);
  const mutation = (
    path: string,
    body: string | Buffer,
    headers: Record<string, string>,
    label: string,
  ): PlannedRequest => ({
    target: `${path} [${label}]`,
    excerpt: excerpt(body),
    send: (url) => callProcedure(url, path, "mutation", body, headers),
  });
  const valid = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      externalSessionId: `rejected-${randomUUID()}`,
      eventType: "note",
      message: `valid ${i}`,
    }));
  const mutations = procedures.filter((p) => p.kind === "mutation");
  for (const p of mutations) {
    const schema = p.inputs[0] as { safeParse?: (value: unknown) => { success: boolean } } | undefined;
    if (schema?.safeParse) {
      // Only what the contract itself refuses (an input of all-optional fields takes `{}`).
      for (const wrong of [
        '"a string"',
        "42",
        "[]",
        "null",
        '{"__proto__":{"isAdmin":true}}',
        '{"constructor":{"prototype":{"isAdmin":true}}}',
      ]) {
        if (!schema.safeParse(JSON.parse(wrong)).success)
          out.push(mutation(p.path, wrong, admin, `wrong type ${wrong}`));
      }
    }
    const plausible = fc.sample(inputFor(p.inputs), { numRuns: 2, seed: options.seed + 7 });
    for (const input of plausible) {
      out.push(mutation(p.path, serialise(input), {}, "no key"));
      out.push(
        mutation(
          p.path,
          serialise(input),
          { authorization: "Bearer lbk_000000000000_" + "A".repeat(43) },
          "unknown key",
        ),
      );
      if (p.access === "ingest" || p.access === "admin")
        out.push(mutation(p.path, serialise(input), bearer(options.readKey), "read-only key"));
    }
  }
  // All-or-nothing batches: valid events followed by one bad one.
  out.push(
    mutation(
      "events.ingest",
      JSON.stringify({ events: [...valid(5), { externalSessionId: "x", eventType: "note", level: "catastrophic" }] }),
      admin,
      "5 valid + 1 invalid",
    ),
  );
  out.push(
    mutation(
      "events.ingest",
      JSON.stringify({ events: [...valid(3), { externalSessionId: "x", eventType: "bad type with spaces" }] }),
      admin,
      "3 valid + 1 invalid",
    ),
  );
  out.push(mutation("events.ingest", JSON.stringify({ events: valid(1001) }), admin, "1001 events"));
  out.push(
    mutation(
      "hooks.ingest",
      JSON.stringify({
        events: [
          { id: randomUUID(), payload: { session_id: `rejected-${randomUUID()}`, hook_event_name: "Stop" } },
          { payload: { hook_event_name: "Stop" } },
        ],
      }),
      admin,
      "1 valid + 1 without session_id",
    ),
  );
  out.push(
    mutation(
      "sessions.create",
      JSON.stringify({ externalId: `rejected-${randomUUID()}`, status: "not-a-status" }),
      admin,
      "bad status",
    ),
  );
  out.push(
    mutation(
      "events.ingest",
      `{"events":[${JSON.stringify(valid(1)[0])}],"pad":"${"x".repeat(options.bodyLimitBytes)}"}`,
      admin,
      "oversize",
    ),
  );
  out.push(
    mutation(
      "events.ingest",
      Buffer.concat([
        Buffer.from('{"events":[{"externalSessionId":"'),
        Buffer.from([0xff]),
        Buffer.from('","eventType":"no"'),
      ]),
      admin,
      "truncated, invalid UTF-8",
    ),
  );
  // The hook endpoint.
  const hook = (label: string, body: string | Buffer, headers: Record<string, string>): PlannedRequest => ({
    target: `POST /hooks/claude-code [${label}]`,
    excerpt: excerpt(body),
    send: (url) =>
      rawRequest({
        method: "POST",
        url: `${url}/hooks/claude-code`,
        headers: { "content-type": "application/json", ...headers },
        body,
      }),
  });
  const good = JSON.stringify({ session_id: `rejected-${randomUUID()}`, hook_event_name: "Stop", cwd: "/tmp" });
  out.push(hook("no key", good, {}));
  out.push(hook("read-only key", good, bearer(options.readKey)));
  out.push(hook("bad event id header", good, { ...admin, "x-logbook-event-id": "not-a-uuid" }));
  out.push(hook("bad occurred-at header", good, { ...admin, "x-logbook-occurred-at": "yesterday" }));
  out.push(hook("not JSON", "{session_id:", admin));
  out.push(hook("array", "[]", admin));
  out.push(hook("no session_id", JSON.stringify({ hook_event_name: "Stop" }), admin));
  out.push(
    hook("oversize", `{"session_id":"x","hook_event_name":"Stop","p":"${"x".repeat(options.bodyLimitBytes)}"}`, admin),
  );
  return out;
}
