import type { AuthReport } from "./suites/auth.js";
import type { ConcurrencyReport } from "./suites/concurrency.js";
import type { DbLimitsReport } from "./suites/db-limits.js";
import type { CrashReport, PrivacyReport } from "./suites/embedded.js";
import type { FaultReport, ShutdownReport } from "./suites/faults.js";
import type { HostileReport } from "./suites/hostile.js";
import { RSS_TREND_MIN_MS, type LoadReport } from "./suites/load.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

/** One verdict: what was checked, the figure, and whether it holds. */
export interface Check {
  suite: string;
  what: string;
  figure: string;
  ok: boolean;
}

const check = (suite: string, what: string, figure: string | number, ok: boolean): Check => ({
  suite,
  what,
  figure: String(figure),
  ok,
});

export function faultChecks(r: FaultReport): Check[] {
  const s = `faults (${r.delivery})`;
  return [
    check(
      s,
      "faults injected (2 server SIGKILLs, 1 PostgreSQL restart)",
      r.faults.map((f) => f.what.split(",")[0]).join("; "),
      r.faults.length === 3,
    ),
    check(
      s,
      `distinct events stored of ${r.expected}`,
      r.stored.distinctEvents,
      r.stored.distinctEvents === r.expected,
    ),
    check(
      s,
      "events stored twice",
      r.stored.duplicates,
      r.stored.duplicates === 0 && r.stored.rows === r.stored.distinctIds,
    ),
    check(
      s,
      "spool left after flush / rejected files",
      `${r.spoolLeft} / ${r.rejectedFiles}`,
      r.spoolLeft === 0 && r.rejectedFiles === 0,
    ),
    check(
      s,
      "real binary runs: non-zero exits / bytes on stdout",
      `${r.binaryNonZeroExit} / ${r.binaryStdoutBytes} (of ${r.viaBinary} runs)`,
      r.binaryNonZeroExit === 0 && r.binaryStdoutBytes === 0,
    ),
  ];
}

export function shutdownChecks(r: ShutdownReport): Check[] {
  const s = "shutdown";
  return [
    check(s, "SIGTERM under load: exit", `code ${r.stopExit?.code ?? "?"} in ${r.stopMs} ms`, r.stopExit?.code === 0),
    check(
      s,
      `acknowledged events missing (of ${r.ackedEvents})`,
      r.ackedButMissing,
      r.ackedEvents > 0 && r.ackedButMissing === 0,
    ),
  ];
}

export function hostileChecks(r: HostileReport): Check[] {
  const s = "hostile";
  return [
    check(s, `requests tried (${r.procedures} procedures, hook endpoint, export download)`, r.requests, r.requests > 0),
    check(s, "5xx answers", r.serverErrors, r.serverErrors === 0),
    check(s, "server crashes", r.crashes, r.crashes === 0),
    check(s, "hangs / connection errors", `${r.hangs} / ${r.networkErrors}`, r.hangs === 0 && r.networkErrors === 0),
    check(s, "error bodies leaking internals", r.leaks, r.leaks === 0),
    check(
      s,
      `refused requests that wrote something (batch of ${r.rejectedBatch.requests})`,
      r.rejectedBatch.changedTables.length === 0 && r.rejectedBatch.contentUnchanged
        ? "0 (row counts and content of all 10 tables unchanged)"
        : r.rejectedBatch.changedTables.join(", ") || "content changed",
      r.rejectedBatch.changedTables.length === 0 && r.rejectedBatch.contentUnchanged,
    ),
    check(
      s,
      "batch requests not refused with a 4xx",
      r.rejectedBatch.notRefused.length,
      r.rejectedBatch.notRefused.length === 0,
    ),
  ];
}

export function authChecks(r: AuthReport): Check[] {
  const s = "auth";
  return [
    check(
      s,
      `auth cases (${r.procedures} procedures × no/malformed/unknown/revoked key, wrong scope)`,
      `${r.requests - r.failures.length}/${r.requests} as expected`,
      r.failures.length === 0 && r.requests > 0,
    ),
    check(
      s,
      "secrets found in api_keys",
      r.keysAtRest.secretFoundInTable ? "yes" : `no (columns: ${r.keysAtRest.columns.join(", ")})`,
      !r.keysAtRest.secretFoundInTable,
    ),
    check(
      s,
      "key_hash = SHA-256 of the key",
      r.keysAtRest.hashIsSha256OfKey ? "yes" : "no",
      r.keysAtRest.hashIsSha256OfKey,
    ),
    check(
      s,
      "key in use, revoked through the API: refused on the next call",
      r.revokedThroughApiRefusedAtOnce ? "yes" : "no",
      r.revokedThroughApiRefusedAtOnce,
    ),
    check(
      s,
      "key in use, revoked by the CLI (another process): refused after",
      r.revokedThroughCliRefusedAfterMs === null ? "not within 15 s" : `${r.revokedThroughCliRefusedAfterMs} ms`,
      r.revokedThroughCliRefusedAfterMs !== null && r.revokedThroughCliRefusedAfterMs <= 6_000,
    ),
    check(
      s,
      "timing-safe compare",
      r.timingSafeCompare ? `${r.timingSafeCompare.file}:${r.timingSafeCompare.line}` : "not found",
      r.timingSafeCompare !== null,
    ),
  ];
}

export function loadChecks(r: LoadReport): Check[] {
  const s = "load";
  return [
    check(
      s,
      `error rate (${r.requests} requests in ${r.durationS} s)`,
      `${r.errors} (${(r.errorRate * 100).toFixed(2)} %)`,
      r.errors === 0,
    ),
    check(
      s,
      "p50 / p95 / p99 / max (ms, all operations)",
      `${r.all.p50} / ${r.all.p95} / ${r.all.p99} / ${r.all.max}`,
      true,
    ),
    // The lows of the sawtooth, from the middle third on (the first is warm-up): `rssTrend`.
    check(
      s,
      "server RSS (MiB): lowest of the middle third → of the last (max)",
      `${r.rss.middleLowMiB} → ${r.rss.lastLowMiB} (${r.rss.lowGrowthPercent} %, max ${r.rss.maxMiB})` +
        (r.rss.judged ? "" : `; not judged: under ${RSS_TREND_MIN_MS / 60_000} min the heap is still filling`),
      !r.rss.judged || r.rss.lowGrowthPercent < 15,
    ),
    check(
      s,
      `live deliveries missed (of ${r.subscriptions.expectedDeliveries})`,
      r.subscriptions.missing,
      r.subscriptions.missing === 0 && r.subscriptions.expectedDeliveries > 0,
    ),
  ];
}

export function concurrencyChecks(r: ConcurrencyReport): Check[] {
  const s = "concurrency";
  return [
    check(
      s,
      `two lock holders at once (${r.locks.clients} clients, ${r.locks.acquisitions} acquisitions, ${r.locks.refusals} refusals)`,
      r.locks.overlaps + r.locks.wrongOwnerSeen,
      r.locks.overlaps === 0 && r.locks.wrongOwnerSeen === 0 && r.locks.otherErrors === 0 && r.locks.acquisitions > 0,
    ),
    check(
      s,
      "expired lock: taken over; stale renew/release refused",
      JSON.stringify(r.locks.expiredTakeover),
      Object.values(r.locks.expiredTakeover).every(Boolean),
    ),
    check(
      s,
      `jobs completed (of ${r.jobs.jobs}; ${r.jobs.killedMidJob} workers SIGKILLed, ${r.jobs.stalledPastLease} stalled mid-job)`,
      r.jobs.completed,
      r.jobs.completed === r.jobs.jobs && !r.jobs.timedOut,
    ),
    check(
      s,
      "jobs completed twice",
      `${r.jobs.completedTwice} (stale completions refused: ${r.jobs.staleCompletionsRefused})`,
      r.jobs.completedTwice === 0,
    ),
  ];
}

export function dbLimitChecks(r: DbLimitsReport): Check[] {
  const s = "db-limits";
  const p = r.underPressure;
  return [
    check(
      s,
      `pool 2 + events locked: answers (${p.requests} requests)`,
      JSON.stringify(p.byStatus),
      p.unclearErrors.length === 0,
    ),
    check(s, "hangs; slowest answer", `${p.hangs}; ${p.maxMs} ms`, p.hangs === 0),
    check(
      s,
      "recovery after the lock goes (no restart)",
      r.recoveryMs === null || r.healthRecoveryMs === null
        ? `never (ingest ${r.recoveryMs ?? "never"}, /health ${r.healthRecoveryMs ?? "never"})`
        : `${r.recoveryMs} ms (/health ${r.healthRecoveryMs} ms), then ${r.afterRecovery.ok}/${r.afterRecovery.requests} ok` +
            r.afterRecovery.failures
              .map((f) => `; ${f.target} ${f.status} at ${f.msAfterRelease} ms: ${f.body}`)
              .join(""),
      r.recoveryMs !== null && r.healthRecoveryMs !== null && r.afterRecovery.ok === r.afterRecovery.requests,
    ),
  ];
}

export function privacyChecks(r: PrivacyReport): Check[] {
  const s = "privacy";
  const other = r.otherAccount;
  return [
    check(
      s,
      "modes: home / pg / credentials / server.json / pg-secrets.json",
      ["."]
        .concat(["pg", "credentials", "server.json", "pg-secrets.json"])
        .map((f) => r.modes[f])
        .join(" / "),
      (r.modes["."] === "700" || (r.ranAsRoot && r.modes["."] === "710")) &&
        r.modes.pg === "700" &&
        ["credentials", "server.json", "pg-secrets.json"].every((f) => r.modes[f] === "600"),
    ),
    check(
      s,
      "PostgreSQL TCP listen_addresses (empty: socket only)",
      JSON.stringify(r.listenAddresses),
      r.listenAddresses === "",
    ),
    check(
      s,
      "the server's role: superuser / createdb / createrole",
      `${r.appRole.name}: ${r.appRole.superuser} / ${r.appRole.createdb} / ${r.appRole.createrole}`,
      !r.appRole.superuser && !r.appRole.createdb && !r.appRole.createrole,
    ),
    check(s, "COPY … TO PROGRAM as the server's role", r.copyToProgram, r.copyToProgram === "42501"),
    check(s, "sign-in with the old constant password", r.legacyPassword, r.legacyPassword === "28P01"),
    check(
      s,
      "a second OS account: read credentials/secrets/server.json, list home/data, socket",
      other ? JSON.stringify(other) : "not run (needs root to act as another account)",
      other !== null &&
        Object.entries(other).every(([what, result]) =>
          what === "tcp5432" ? result !== "allowed" : result === "EACCES",
        ),
    ),
  ];
}

export function crashChecks(r: CrashReport): Check[] {
  const s = "pg-crash";
  const detected = r.rounds.map((x) => x.firstUnavailableMs);
  return [
    check(
      s,
      `kill -9 of the postmaster ×${r.kills}: first 503 after (ms)`,
      detected.map((ms) => ms ?? "none (back before any writer's next request)").join(", "),
      true,
    ),
    check(
      s,
      "writers served again after (ms), without a server restart",
      r.rounds.map((x) => x.recoveredMs).join(", "),
      !r.serverRestarted,
    ),
    check(
      s,
      "answers to the writers (no 500, no hang)",
      JSON.stringify(r.statuses),
      Object.keys(r.statuses).every((status) => status === "200" || status === "503"),
    ),
    check(s, `acknowledged events missing (of ${r.ackedEvents})`, r.ackedButMissing, r.ackedButMissing === 0),
    check(s, "error-level log lines", r.errorLogLines, r.errorLogLines === 0),
  ];
}

export function printChecks(checks: Check[]): void {
  const rows = checks.map((c) => [c.suite, c.what, c.figure, c.ok ? "ok" : "FAIL"]);
  const widths = [0, 1, 2, 3].map((i) => Math.min(90, Math.max(...rows.map((r) => expectDefined(r[i]).length), 4)));
  for (const row of [["suite", "check", "figure", "verdict"], ...rows]) {
    console.log(`| ${row.map((cell, i) => cell.padEnd(expectDefined(widths[i]))).join(" | ")} |`);
  }
}
