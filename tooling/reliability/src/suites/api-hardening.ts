/**
 * Issue 14 items 3, 6, 7, 9, 10, 11 and the no-input lists of issue 13, as an outside
 * attacker tries them against the built server: prototype names as file paths, lists with
 * no input, oversized batches (and /health while they run), 2,000 wrong keys, a revoked
 * key's live stream, numbers JSON cannot hold, and many large bodies at once (peak RSS).
 */
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";

import { createLogbookClient, type LogbookClient } from "@logbook/sdk";

import type { Check } from "../checks.js";
import type { Cluster } from "../lib/cluster.js";
import { keyWith, startServer } from "../lib/server.js";
import { round, sleep } from "../lib/stats.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

export interface ApiHardeningOptions {
  wrongKeys: number;
  /** Concurrent 7.9 MiB hook posts, one run per entry. */
  bigBodyRuns: number[];
  log?: (line: string) => void;
}

export interface BigBodyRun {
  concurrent: number;
  budgetBytes: number | "off";
  byStatus: Record<string, number>;
  peakRssMiB: number | null;
  baselineRssMiB: number | null;
  retryAfterOn503: boolean;
}

export interface ApiHardeningReport {
  prototypePaths: { sent: number; ok: number; mimeNull: number; statuses: number[] };
  noInput: { procedures: string[]; ok: number };
  batches: {
    callsStatus: number;
    callsMessage: string;
    eventsStatus: number;
    eventsMessage: string;
    eventsStored: number;
    healthDuringMs: number;
    healthStatus: number;
  };
  wrongKeys: {
    sent: number;
    byStatus: Record<string, number>;
    seconds: number;
    retryAfter: string | null;
    warnLines: number;
    keyInLogs: boolean;
  };
  revoked: { closedWithUnauthorized: boolean; eventsAfterRevoke: number; controlHeard: boolean };
  numbers: Array<{ sent: string; status: number; message: string }>;
  bigBodies: BigBodyRun[];
}

/** Peak resident set size (VmHWM) of a process in MiB. */
function peakRssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

const count = (map: Record<string, number>, key: number | string) => (map[String(key)] = (map[String(key)] ?? 0) + 1);

export async function runApiHardening(cluster: Cluster, options: ApiHardeningOptions): Promise<ApiHardeningReport> {
  const log = options.log ?? (() => undefined);
  // The throttle on (the suites' default turns it off): this suite probes it.
  const server = await startServer(cluster.url, { AUTH_FAILURE_LIMIT: "20", AUTH_FAILURE_WINDOW_MS: "60000" });
  const url = server.url;
  const json = { authorization: `Bearer ${server.apiKey}`, "content-type": "application/json" };
  const client = createLogbookClient({ url, apiKey: server.apiKey, retry: false });
  const admin = createLogbookClient({ url, apiKey: await keyWith(server, ["admin"], "hardening-admin"), retry: false });
  let stopped = false;
  try {
    // Item 6: names Object.prototype knows, as file paths.
    const session = await client.sessions.create.mutate({ title: "hardening" });
    const paths = ["constructor", "src/constructor", "a.constructor", "__proto__", "x.__proto__", "y.toString"];
    const prototypePaths = { sent: paths.length, ok: 0, mimeNull: 0, statuses: [] as number[] };
    for (const path of paths) {
      const response = await fetch(`${url}/trpc/files.upsert`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ sessionId: session.id, path, content: "x" }),
      });
      prototypePaths.statuses.push(response.status);
      const body = (await response.json()) as { result?: { data?: { mimeType?: unknown } } };
      if (response.status === 200) prototypePaths.ok++;
      if (body.result?.data?.mimeType === null) prototypePaths.mimeNull++;
    }
    log(`api-hardening: prototype paths ${prototypePaths.ok}/${paths.length} ok`);

    // Issue 13: lists whose every field is optional, with no input at all.
    const lists = ["sessions.list", "events.listRecent", "projects.list", "jobs.list", "stats.activeSessions"];
    let listsOk = 0;
    for (const path of lists) {
      const response = await fetch(`${url}/trpc/${path}`, { headers: json });
      await response.arrayBuffer();
      if (response.status === 200) listsOk++;
    }

    // Item 7: 4 GETs of 1,000 x stats.overview at once, /health timed meanwhile; one POST of 80 x 1,000 events.
    const thousand = Array.from({ length: 1000 }, () => "stats.overview").join(",");
    const big = Array.from({ length: 4 }, () => fetch(`${url}/trpc/${thousand}?batch=1&input={}`, { headers: json }));
    const healthStarted = performance.now();
    const health = await fetch(`${url}/health`);
    const healthDuringMs = round(performance.now() - healthStarted);
    await health.arrayBuffer();
    const bigResponses = await Promise.all(big);
    const callsBody = (await expectDefined(bigResponses[0]).json()) as Array<{ error?: { message?: string } }>;
    for (const r of bigResponses.slice(1)) await r.arrayBuffer();
    const externalSessionId = `hardening-${randomUUID()}`;
    const calls = Object.fromEntries(
      Array.from({ length: 80 }, (_, i) => [
        String(i),
        { events: Array.from({ length: 1000 }, () => ({ externalSessionId, eventType: "n" })) },
      ]),
    );
    const events = await fetch(`${url}/trpc/${Array(80).fill("events.ingest").join(",")}?batch=1`, {
      method: "POST",
      headers: json,
      body: JSON.stringify(calls),
    });
    const eventsBody = (await events.json()) as Array<{ error?: { message?: string } }>;
    const stored = await cluster.knex("sessions").where({ external_id: externalSessionId }).count({ n: "*" });
    const batches = {
      callsStatus: expectDefined(bigResponses[0]).status,
      callsMessage: callsBody[0]?.error?.message ?? "",
      eventsStatus: events.status,
      eventsMessage: eventsBody[0]?.error?.message ?? "",
      eventsStored: Number(expectDefined(stored[0]).n),
      healthDuringMs,
      healthStatus: health.status,
    };
    log(`api-hardening: batches ${batches.callsStatus}/${batches.eventsStatus}, /health ${healthDuringMs} ms`);

    // Item 11: numbers that JSON cannot hold exactly here, and a token count out of range.
    const numbers: ApiHardeningReport["numbers"] = [];
    for (const sent of ["1e400", "-1e-400", "12345678901234567890", "0.12345678901234567890123"]) {
      const response = await fetch(`${url}/trpc/events.ingest`, {
        method: "POST",
        headers: json,
        body: `{"events":[{"externalSessionId":"num","eventType":"n"},{"externalSessionId":"num","eventType":"n","payload":{"v":${sent}}}]}`,
      });
      const body = (await response.json()) as { error?: { message?: string } };
      numbers.push({ sent, status: response.status, message: body.error?.message ?? "" });
    }
    const tokens = await fetch(`${url}/trpc/events.ingest`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        events: [
          {
            externalSessionId: "tok",
            eventType: "assistant",
            source: "transcript",
            payload: { type: "assistant", message: { id: "m", usage: { input_tokens: 1e20 } } },
          },
        ],
      }),
    });
    numbers.push({
      sent: "input_tokens 1e20",
      status: tokens.status,
      message: ((await tokens.json()) as { error?: { message?: string } }).error?.message ?? "",
    });

    // Item 3: a revoked key's live stream.
    const marker = `hr-${randomUUID().slice(0, 8)}-`;
    const doomedKey = await admin.apiKeys.create.mutate({ name: "doomed", scopes: ["read"] });
    const watch = (c: LogbookClient) => {
      const state = { started: false, messages: 0, errors: [] as unknown[], stop: () => undefined as void };
      const sub = c.events.onEvent.subscribe(
        {},
        {
          onStarted: () => (state.started = true),
          onData: ({ data }) => {
            if (data.message?.startsWith(marker)) state.messages++;
          },
          onError: (error) => state.errors.push(error),
        },
      );
      state.stop = () => sub.unsubscribe();
      return state;
    };
    const doomed = watch(createLogbookClient({ url, apiKey: doomedKey.secret, retry: false }));
    const control = watch(client);
    await until(() => doomed.started && control.started, 20_000);
    await admin.apiKeys.revoke.mutate({ id: doomedKey.key.id });
    const closed = await until(() => doomed.errors.length > 0, 20_000);
    await client.ingest([{ externalSessionId: "hr", eventType: "n", message: `${marker}after` }]);
    const controlHeard = await until(() => control.messages > 0, 20_000);
    const firstError = doomed.errors[0] as { code?: string; data?: { code?: string } } | undefined;
    const revoked = {
      closedWithUnauthorized: closed && (firstError?.code ?? firstError?.data?.code) === "UNAUTHORIZED",
      eventsAfterRevoke: doomed.messages,
      controlHeard,
    };
    doomed.stop();
    control.stop();

    // Item 10: wrong keys, one after another, from one address (last: they lock out good keys too).
    const wrong = `${server.apiKey.slice(0, -6)}zzzzzz`;
    const wrongStatuses: Record<string, number> = {};
    let retryAfter: string | null = null;
    const wrongStarted = performance.now();
    for (let i = 0; i < options.wrongKeys; i++) {
      const response = await fetch(`${url}/trpc/auth.whoami`, { headers: { authorization: `Bearer ${wrong}` } });
      await response.arrayBuffer();
      count(wrongStatuses, response.status);
      if (response.status === 429) retryAfter ??= response.headers.get("retry-after");
    }
    const lines = server.logs();
    const wrongKeys = {
      sent: options.wrongKeys,
      byStatus: wrongStatuses,
      seconds: round((performance.now() - wrongStarted) / 1000, 2),
      retryAfter,
      warnLines: lines.filter((l) => l.includes('"level":40') && l.includes("failed authentication")).length,
      keyInLogs: lines.some((l) => l.includes(wrong.slice(-16))),
    };
    log(`api-hardening: wrong keys ${JSON.stringify(wrongStatuses)} in ${wrongKeys.seconds} s`);

    await server.stop();
    stopped = true;

    // Item 9: many large bodies at once, on a fresh server each run (VmHWM is the process's peak).
    const bigBodies: BigBodyRun[] = [];
    for (const concurrent of options.bigBodyRuns) {
      bigBodies.push(await bigBodyRun(cluster, concurrent, "default", log));
      // Without the budget only at small counts: 100 such posts took 2.8 GiB before.
      if (concurrent <= 20) bigBodies.push(await bigBodyRun(cluster, concurrent, "off", log));
    }

    return {
      prototypePaths,
      noInput: { procedures: lists, ok: listsOk },
      batches,
      wrongKeys,
      revoked,
      numbers,
      bigBodies,
    };
  } finally {
    if (!stopped) await server.stop();
  }
}

const MIB = 1024 * 1024;

async function bigBodyRun(
  cluster: Cluster,
  concurrent: number,
  budget: "default" | "off",
  log: (line: string) => void,
): Promise<BigBodyRun> {
  // "off": a budget far beyond what the run sends, as before the budget existed.
  const server = await startServer(cluster.url, budget === "off" ? { BODY_BUDGET_BYTES: String(16 * 1024 * MIB) } : {});
  try {
    const text = JSON.stringify({ session_id: `big-${randomUUID()}`, hook_event_name: "Notification", message: "" });
    const body = Buffer.from(text.replace('"message":""', `"message":"${"x".repeat(Math.floor(7.9 * MIB))}"`));
    const baselineRssMiB = peakRssMiB(server.pid);
    const byStatus: Record<string, number> = {};
    let retryAfterOn503 = true;
    await Promise.all(
      Array.from({ length: concurrent }, async () => {
        try {
          const response = await fetch(`${server.url}/hooks/claude-code`, {
            method: "POST",
            headers: { authorization: `Bearer ${server.apiKey}`, "content-type": "application/json" },
            body,
          });
          await response.arrayBuffer();
          count(byStatus, response.status);
          if (response.status === 503 && !response.headers.get("retry-after")) retryAfterOn503 = false;
        } catch {
          count(byStatus, "network error");
        }
      }),
    );
    const run: BigBodyRun = {
      concurrent,
      budgetBytes: budget === "off" ? "off" : 32 * MIB,
      byStatus,
      peakRssMiB: peakRssMiB(server.pid),
      baselineRssMiB,
      retryAfterOn503,
    };
    log(
      `api-hardening: ${concurrent} x 7.9 MiB, budget ${budget}: ${JSON.stringify(byStatus)}, peak ${run.peakRssMiB} MiB`,
    );
    return run;
  } finally {
    await server.stop();
  }
}

const check = (what: string, figure: string | number, ok: boolean): Check => ({
  suite: "api-hardening",
  what,
  figure: String(figure),
  ok,
});

export function apiHardeningChecks(r: ApiHardeningReport): Check[] {
  const limited = r.bigBodies.filter((b) => b.budgetBytes !== "off");
  return [
    check(
      "files.upsert with Object.prototype names: 200, MIME null",
      `${r.prototypePaths.ok}/${r.prototypePaths.sent} ok, ${r.prototypePaths.mimeNull} null`,
      r.prototypePaths.ok === r.prototypePaths.sent && r.prototypePaths.mimeNull === r.prototypePaths.sent,
    ),
    check(
      "lists with no input: 200",
      `${r.noInput.ok}/${r.noInput.procedures.length}`,
      r.noInput.ok === r.noInput.procedures.length,
    ),
    check(
      "1,000-call batch: 413 naming MAX_BATCH_CALLS; /health meanwhile",
      `${r.batches.callsStatus}; /health ${r.batches.healthStatus} in ${r.batches.healthDuringMs} ms`,
      r.batches.callsStatus === 413 &&
        r.batches.callsMessage.includes("MAX_BATCH_CALLS") &&
        r.batches.healthStatus === 200,
    ),
    check(
      "80 x 1,000 events in one POST: 413 naming a limit, nothing stored",
      `${r.batches.eventsStatus}, ${r.batches.eventsStored} stored`,
      r.batches.eventsStatus === 413 &&
        /MAX_BATCH_(CALLS|EVENTS)/.test(r.batches.eventsMessage) &&
        r.batches.eventsStored === 0,
    ),
    check(
      "wrong keys: 429 with Retry-After past the limit, warn lines without the key",
      `${JSON.stringify(r.wrongKeys.byStatus)} in ${r.wrongKeys.seconds} s; ${r.wrongKeys.warnLines} warn lines`,
      (r.wrongKeys.byStatus["429"] ?? 0) > 0 &&
        (r.wrongKeys.byStatus["401"] ?? 0) <= 20 &&
        r.wrongKeys.retryAfter !== null &&
        r.wrongKeys.warnLines > 0 &&
        !r.wrongKeys.keyInLogs,
    ),
    check(
      "revoked key: its stream closes with UNAUTHORIZED, gets nothing after",
      `${r.revoked.closedWithUnauthorized ? "closed" : "open"}, ${r.revoked.eventsAfterRevoke} events after`,
      r.revoked.closedWithUnauthorized && r.revoked.eventsAfterRevoke === 0 && r.revoked.controlHeard,
    ),
    check(
      "numbers JSON cannot hold, out-of-range tokens: 400 naming events[i] and the field",
      r.numbers.map((n) => `${n.sent}: ${n.status}`).join("; "),
      r.numbers.every((n) => n.status === 400 && /events\[1\]|events\[0\]/.test(n.message)),
    ),
    ...limited.map((b) =>
      check(
        `${b.concurrent} concurrent 7.9 MiB posts (budget 32 MiB): only 200/503 with Retry-After; peak RSS`,
        `${JSON.stringify(b.byStatus)}; peak ${b.peakRssMiB} MiB`,
        Object.keys(b.byStatus).every((s) => s === "200" || s === "503") &&
          b.retryAfterOn503 &&
          (b.peakRssMiB ?? Infinity) < 700,
      ),
    ),
  ];
}
