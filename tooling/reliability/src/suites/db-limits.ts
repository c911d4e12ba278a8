import type { Cluster } from "../lib/cluster.js";
import { bearer, callProcedure, rawRequest, type RawResponse } from "../lib/http.js";
import { startServer } from "../lib/server.js";
import { percentile, round, sleep } from "../lib/stats.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

export interface DbLimitsReport {
  settings: Record<string, string>;
  underPressure: {
    requests: number;
    byStatus: Record<string, number>;
    /** 5xx other than 503, or 503s without a message that says what happened. */
    unclearErrors: Array<{ target: string; status: number; body: string }>;
    hangs: number;
    maxMs: number;
    p99Ms: number;
    messages: string[];
  };
  /** From releasing the lock to the first successful ingest. */
  recoveryMs: number | null;
  /**
   * From releasing the lock to the first 200 of `/health`, which answers from a cached probe
   * and may say "unreachable" for up to its cache age plus probe timeout (1 s) after the
   * database is back (apps/server/src/health.ts).
   */
  healthRecoveryMs: number | null;
  /** The 20 calls after the first successful ingest; those that failed, named. */
  afterRecovery: {
    requests: number;
    ok: number;
    failures: Array<{ target: string; status: number; msAfterRelease: number; body: string }>;
  };
  durationMs: number;
}

const CLIENT_DEADLINE_MS = 20_000;

/**
 * Pool exhaustion and a slow database: a server with a pool of 2, a 500 ms acquire
 * timeout and a 1 s statement timeout, while another connection holds
 * `LOCK TABLE events IN ACCESS EXCLUSIVE MODE` for `holdMs`. Every request must end (no
 * hang) with a clear 503 or succeed; once the lock goes, the server recovers by itself.
 */
export async function runDbLimits(
  cluster: Cluster,
  options: { holdMs: number; requests: number; log?: (line: string) => void },
): Promise<DbLimitsReport> {
  const started = performance.now();
  const settings = {
    DATABASE_POOL_MAX: "2",
    DATABASE_ACQUIRE_TIMEOUT_MS: "500",
    DATABASE_STATEMENT_TIMEOUT_MS: "1000",
  };
  const server = await startServer(cluster.url, settings);
  const key = await server.createKey(["ingest", "read"], "db-limits");
  const headers = bearer(key);
  let n = 0;
  const ingest = () =>
    callProcedure(
      server.url,
      "events.ingest",
      "mutation",
      JSON.stringify({ events: [{ externalSessionId: "db-limits", eventType: "note", message: `m${n++}` }] }),
      headers,
      CLIENT_DEADLINE_MS,
    );
  const calls: Array<{ target: string; call: () => Promise<RawResponse> }> = [
    { target: "events.ingest", call: ingest },
    {
      target: "events.listRecent",
      call: () =>
        callProcedure(
          server.url,
          "events.listRecent",
          "query",
          JSON.stringify({ limit: 5 }),
          headers,
          CLIENT_DEADLINE_MS,
        ),
    },
    {
      target: "sessions.list",
      call: () =>
        callProcedure(server.url, "sessions.list", "query", JSON.stringify({ limit: 5 }), headers, CLIENT_DEADLINE_MS),
    },
    {
      target: "POST /hooks/claude-code",
      call: () =>
        rawRequest({
          method: "POST",
          url: `${server.url}/hooks/claude-code`,
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify({ session_id: "db-limits-hook", hook_event_name: "Stop" }),
          timeoutMs: CLIENT_DEADLINE_MS,
        }),
    },
    {
      target: "stats.overview",
      call: () => callProcedure(server.url, "stats.overview", "query", undefined, headers, CLIENT_DEADLINE_MS),
    },
    {
      target: "GET /health",
      call: () => rawRequest({ method: "GET", url: `${server.url}/health`, timeoutMs: CLIENT_DEADLINE_MS }),
    },
  ];
  const report: DbLimitsReport = {
    settings,
    underPressure: { requests: 0, byStatus: {}, unclearErrors: [], hangs: 0, maxMs: 0, p99Ms: 0, messages: [] },
    recoveryMs: null,
    healthRecoveryMs: null,
    afterRecovery: { requests: 0, ok: 0, failures: [] },
    durationMs: 0,
  };
  try {
    for (let i = 0; i < 5; i++) {
      const warm = await ingest();
      if (warm.status !== 200) throw new Error(`db-limits: warm-up ingest answered ${warm.status}: ${warm.body}`);
    }
    const trx = await cluster.knex.transaction();
    let released = 0;
    try {
      await trx.raw("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
      const latencies: number[] = [];
      const messages = new Set<string>();
      const deadline = Date.now() + options.holdMs;
      const waves: Array<Promise<void>> = [];
      // Waves of concurrent requests for as long as the lock is held.
      while (Date.now() < deadline && report.underPressure.requests < options.requests) {
        const wave = calls.map(async ({ target, call }) => {
          const response = await call();
          report.underPressure.requests += 1;
          latencies.push(response.ms);
          const key = response.timedOut ? "hang" : response.networkError ? "network" : String(response.status);
          report.underPressure.byStatus[key] = (report.underPressure.byStatus[key] ?? 0) + 1;
          if (response.timedOut) report.underPressure.hangs += 1;
          let message = "";
          try {
            const parsed = JSON.parse(response.body) as { error?: { message?: string; json?: { message?: string } } };
            message = parsed.error?.message ?? parsed.error?.json?.message ?? "";
          } catch {
            // health's body, or not JSON
          }
          if (response.status >= 500) {
            if (message) messages.add(`${response.status} ${target}: ${message}`);
            const clear = response.status === 503 && (target === "GET /health" || /database/i.test(message));
            if (!clear)
              report.underPressure.unclearErrors.push({
                target,
                status: response.status,
                body: response.body.slice(0, 300),
              });
          }
          if (response.networkError)
            report.underPressure.unclearErrors.push({ target, status: 0, body: response.networkError });
        });
        waves.push(Promise.all(wave).then(() => undefined));
        await sleep(250);
      }
      await Promise.all(waves);
      report.underPressure.maxMs = round(Math.max(...latencies));
      report.underPressure.p99Ms = round(percentile(latencies, 99));
      report.underPressure.messages = [...messages].slice(0, 10);
    } finally {
      await trx.commit();
      released = performance.now();
    }
    // Recovery: no restart, no intervention; poll until an ingest succeeds, then until
    // /health says so too (bounded), before the calls that must all succeed.
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const response = await ingest();
      if (response.status === 200) {
        report.recoveryMs = round(performance.now() - released);
        break;
      }
      await sleep(100);
    }
    while (report.recoveryMs !== null && Date.now() < until) {
      const response = await rawRequest({ method: "GET", url: `${server.url}/health`, timeoutMs: CLIENT_DEADLINE_MS });
      if (response.status === 200) {
        report.healthRecoveryMs = round(performance.now() - released);
        break;
      }
      await sleep(50);
    }
    for (let i = 0; i < 20; i++) {
      const { target, call } = expectDefined(calls[i % calls.length]);
      const response = await call();
      report.afterRecovery.requests += 1;
      if (response.status === 200) report.afterRecovery.ok += 1;
      else
        report.afterRecovery.failures.push({
          target,
          status: response.status,
          msAfterRelease: round(performance.now() - released),
          body: response.body.slice(0, 200),
        });
    }
  } finally {
    await server.stop();
  }
  report.durationMs = performance.now() - started;
  return report;
}
