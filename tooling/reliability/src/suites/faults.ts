import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { stopDeliverer } from "@logbook/hook-emitter";
import { createLogbookClient } from "@logbook/sdk";

import type { Cluster } from "../lib/cluster.js";
import { startServer } from "../lib/server.js";
import { round, sleep } from "../lib/stats.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

const EMITTER_DIR = fileURLToPath(new URL("../../../../apps/hook-emitter/", import.meta.url));

/** The built `logbook-hook`: where the emitter's package.json `bin` points (or the same name with .cjs/.js). */
export function hookBinary(): string {
  const pkg = JSON.parse(readFileSync(join(EMITTER_DIR, "package.json"), "utf8")) as { bin?: Record<string, string> };
  const declared = join(EMITTER_DIR, pkg.bin?.["logbook-hook"] ?? "dist/logbook-hook.cjs");
  const candidates = [declared, declared.replace(/\.c?js$/, ".cjs"), declared.replace(/\.c?js$/, ".js")];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`the hook emitter is not built (${declared}): pnpm --filter @logbook/hook-emitter build`);
  return found;
}
/**
 * A snapshot of the built bundle (the entry and the files beside it, e.g. the commands `flush`
 * needs) in `dir`: a rebuild of apps/hook-emitter during a run (others work in this tree) must
 * not pull the binary from under the suite. Returns the entry's path and its sha256.
 */
export async function snapshotHookBinary(dir: string): Promise<{ path: string; sha256: string }> {
  const built = hookBinary();
  for (const file of readdirSync(dirname(built)).filter((name) => /\.c?js$/.test(name))) {
    await copyFile(join(dirname(built), file), join(dir, file));
  }
  const path = join(dir, basename(built));
  return {
    path,
    sha256: createHash("sha256")
      .update(await readFile(path))
      .digest("hex"),
  };
}

const PACKAGE_DIR = fileURLToPath(new URL("../../", import.meta.url));
const LANE = fileURLToPath(new URL("../workers/emitter-lane.ts", import.meta.url));

export interface FaultOptions {
  lanes: number;
  eventsPerLane: number;
  /** Every n-th event of a lane runs the real binary (0: none). */
  binaryEvery: number;
  /** How the hooks deliver: the emitter's default `background` (spool + resident deliverer) or `direct`. */
  delivery: "background" | "direct";
  log?: (line: string) => void;
}

export interface LaneSummary {
  lane: number;
  events: number;
  viaBinary: number;
  viaInProcess: number;
  acked: number;
  spooled: number;
  refused: number;
  deliverersStarted: number;
  binaryNonZeroExit: number;
  binaryStdoutBytes: number;
}

export interface FaultReport {
  delivery: FaultOptions["delivery"];
  expected: number;
  /** SHA-256 of the `dist/logbook-hook.cjs` that ran (copied at the start). */
  hookBinSha256: string;
  viaBinary: number;
  viaInProcess: number;
  /** Events the server acknowledged at once (the rest went through the spool). */
  ackedDirectly: number;
  spooled: number;
  /** Background mode: deliverers the in-process lanes started (the real binary's are not counted). */
  deliverersStarted: number;
  /** `at`: events recorded when the fault hit; `storedAt`: events stored by then (background delivery lags behind recording). */
  faults: Array<{ at: number; storedAt: number; what: string; ms: number }>;
  flushRuns: number;
  spoolLeft: number;
  rejectedFiles: number;
  stored: { rows: number; distinctEvents: number; distinctIds: number; duplicates: number; missing: number };
  binaryNonZeroExit: number;
  binaryStdoutBytes: number;
  serverExitsOtherThanOurKills: number;
  durationMs: number;
  lanes: LaneSummary[];
}

function spoolCount(home: string, sub = ""): number {
  try {
    return readdirSync(join(home, "spool", sub)).filter((n) => n.endsWith(".json") || n.endsWith(".raw")).length;
  } catch {
    return 0;
  }
}

/** Background delivery: how long the stored count may stand still before a fault is given up. */
const STALL_MS = 60_000;

function runFlush(
  hookBin: string,
  home: string,
  url: string,
  apiKey: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [hookBin, "flush"], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LOGBOOK_HOME: home,
        LOGBOOK_URL: url,
        LOGBOOK_API_KEY: apiKey,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/**
 * `lanes` concurrent emitters record `lanes × eventsPerLane` hook events into a server
 * that is SIGKILLed twice and whose PostgreSQL is restarted once mid-stream; then
 * `logbook-hook flush` sends the spool and the events table is counted.
 */
export async function runFaults(cluster: Cluster, options: FaultOptions): Promise<FaultReport> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const expected = options.lanes * options.eventsPerLane;
  const run = randomBytes(4).toString("hex");
  const ofThisRun = `${run}:%`;
  const server = await startServer(cluster.url, { JOB_RECOVERY_INTERVAL_MS: "0" });
  const home = await mkdtemp(join(tmpdir(), "logbook-rel-emitters-"));
  const { path: hookBin, sha256: hookBinSha256 } = await snapshotHookBinary(home);
  const report: FaultReport = {
    delivery: options.delivery,
    expected,
    hookBinSha256,
    viaBinary: 0,
    viaInProcess: 0,
    ackedDirectly: 0,
    spooled: 0,
    deliverersStarted: 0,
    faults: [],
    flushRuns: 0,
    spoolLeft: 0,
    rejectedFiles: 0,
    stored: { rows: 0, distinctEvents: 0, distinctIds: 0, duplicates: 0, missing: 0 },
    binaryNonZeroExit: 0,
    binaryStdoutBytes: 0,
    serverExitsOtherThanOurKills: 0,
    durationMs: 0,
    lanes: [],
  };
  const children: ChildProcess[] = [];
  // Direct delivery: a hook that finds the database down gets a 503 at once and spools for a
  // second without posting, so lanes can record everything left while the PostgreSQL restart
  // runs, and the last fault would find nothing to hit. Lanes are held at 3/4 of their events
  // (past the last fault's 70%) until the faults are done.
  const holdFile = options.delivery === "direct" ? join(home, "lanes-hold") : undefined;
  if (holdFile) writeFileSync(holdFile, String(Math.ceil(options.eventsPerLane * 0.75)));
  try {
    const progress = new Array<number>(options.lanes).fill(0);
    const done = progress.map((_, lane) => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          LANE,
          JSON.stringify({
            lane,
            count: options.eventsPerLane,
            binaryEvery: options.binaryEvery,
            home,
            url: server.url,
            apiKey: server.apiKey,
            hookBin,
            delivery: options.delivery,
            run,
            holdFile,
          }),
        ],
        {
          cwd: PACKAGE_DIR,
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      children.push(child);
      let buffered = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          if (line.startsWith("P ")) progress[lane] = Number(line.slice(2));
          else if (line.startsWith("S ")) report.lanes.push(JSON.parse(line.slice(2)) as LaneSummary);
        }
      });
      return new Promise<void>((resolve, reject) =>
        child.on("close", (code) =>
          code === 0 ? resolve() : reject(new Error(`emitter lane ${lane} exited with ${code}`)),
        ),
      );
    });
    const allDone = Promise.all(done);
    let finished = false;
    void allDone.then(
      () => (finished = true),
      () => (finished = true),
    );
    const total = () => progress.reduce((a, b) => a + b, 0);
    const storedSoFar = async () =>
      (
        await cluster.knex.raw<{ rows: Array<{ n: number }> }>(
          "SELECT count(*)::int AS n FROM events WHERE payload->>'rel_seq' LIKE ?",
          [ofThisRun],
        )
      ).rows[0]?.n ?? 0;
    // Direct: a fault hits at a share of the events *recorded* (the hooks post as they go).
    // Background: of the events *stored*, since recording outruns the deliverer and the
    // faults are meant for the sending; a deliverer that stops making progress for
    // STALL_MS leaves the remaining faults out, which the checks report.
    const fault = async (fraction: number, what: string, act: () => Promise<void>) => {
      if (options.delivery === "direct") {
        while (!finished && total() < fraction * expected) await sleep(100);
        if (finished) return;
      } else {
        let seen = -1;
        let progressAt = Date.now();
        for (let stored = await storedSoFar(); stored < fraction * expected; stored = await storedSoFar()) {
          if (stored !== seen || !finished) [seen, progressAt] = [stored, Date.now()];
          else if (Date.now() - progressAt > STALL_MS)
            return log(`faults (background): no event stored for ${STALL_MS / 1000} s; "${what}" left out`);
          await sleep(100);
        }
      }
      const t = performance.now();
      const at = total();
      const storedAt = await storedSoFar();
      log(`faults (${options.delivery}): ${what} at ${at} of ${expected} events recorded, ${storedAt} stored`);
      await act();
      report.faults.push({ at, storedAt, what, ms: round(performance.now() - t, 0) });
    };
    const faults = (async () => {
      try {
        await fault(0.2, "SIGKILL server, start it again", async () => {
          await server.kill("SIGKILL");
          await sleep(1_000);
          await server.restart();
        });
        await fault(0.45, "restart PostgreSQL (fast stop, 2 s down, start)", () => cluster.restartPostgres(2_000));
        await fault(0.7, "SIGKILL server, start it again", async () => {
          await server.kill("SIGKILL");
          await sleep(1_000);
          await server.restart();
        });
      } finally {
        // Lift the hold once the faults are done, whether or not each could hit.
        if (holdFile) rmSync(holdFile, { force: true });
      }
    })();
    await allDone;
    await faults;
    log(
      `faults (${options.delivery}): all ${expected} events recorded; flushing the spool (${spoolCount(home)} files)`,
    );

    // Detached background flushes the real binary started may still run: `flush` waits for them.
    for (let attempt = 0; attempt < 10 && (spoolCount(home) > 0 || attempt === 0); attempt++) {
      report.flushRuns += 1;
      const result = await runFlush(hookBin, home, server.url, server.apiKey);
      if (result.code !== 0)
        log(`faults (${options.delivery}): flush exited ${result.code}: ${result.out.trim().slice(0, 300)}`);
      if (spoolCount(home) > 0) await sleep(1_000);
    }
    report.spoolLeft = spoolCount(home);
    report.rejectedFiles = spoolCount(home, "rejected");
    const counts = await cluster.knex.raw<{
      rows: Array<{ rows: number; distinct_events: number; distinct_ids: number }>;
    }>(
      `SELECT count(*)::int AS rows, count(DISTINCT payload->>'rel_seq')::int AS distinct_events, count(DISTINCT id)::int AS distinct_ids
         FROM events WHERE payload->>'rel_seq' LIKE ?`,
      [ofThisRun],
    );
    const row = expectDefined(counts.rows[0]);
    report.stored = {
      rows: row.rows,
      distinctEvents: row.distinct_events,
      distinctIds: row.distinct_ids,
      duplicates: row.rows - row.distinct_events,
      missing: expected - row.distinct_events,
    };
    for (const lane of report.lanes) {
      report.viaBinary += lane.viaBinary;
      report.viaInProcess += lane.viaInProcess;
      report.ackedDirectly += lane.acked;
      report.spooled += lane.spooled;
      report.deliverersStarted += lane.deliverersStarted;
      report.binaryNonZeroExit += lane.binaryNonZeroExit;
      report.binaryStdoutBytes += lane.binaryStdoutBytes;
    }
    if (server.exit !== null) report.serverExitsOtherThanOurKills += 1;
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    // A resident deliverer the hooks started outlives them: stop it before its spool goes.
    stopDeliverer(join(home, "spool"));
    await server.stop();
    await rm(home, { recursive: true, force: true });
  }
  report.durationMs = performance.now() - started;
  return report;
}

export interface ShutdownReport {
  clients: number;
  /** Ingest calls the SDK got an answer for (each a batch of `batchSize` events). */
  ackedCalls: number;
  ackedEvents: number;
  /** Acknowledged events not found in the database afterwards. Must be 0. */
  ackedButMissing: number;
  /** Calls that failed while the server stopped and started (not acknowledged: the client knows). */
  failedCalls: number;
  stopExit: { code: number | null; signal: string | null } | null;
  stopMs: number;
  durationMs: number;
}

/**
 * SIGTERM under load: SDK clients ingest batches without pause; the server gets SIGTERM
 * mid-stream and is started again. Every event of every call the SDK saw succeed must be
 * in the database.
 */
export async function runGracefulShutdown(
  cluster: Cluster,
  options: { clients: number; batchSize: number; loadMs: number; log?: (line: string) => void },
): Promise<ShutdownReport> {
  const started = performance.now();
  const server = await startServer(cluster.url, { JOB_RECOVERY_INTERVAL_MS: "0" });
  const acked: string[] = [];
  const report: ShutdownReport = {
    clients: options.clients,
    ackedCalls: 0,
    ackedEvents: 0,
    ackedButMissing: 0,
    failedCalls: 0,
    stopExit: null,
    stopMs: 0,
    durationMs: 0,
  };
  try {
    // No SDK retries: a call either got its answer (acknowledged) or failed visibly.
    const client = createLogbookClient({ url: server.url, apiKey: server.apiKey, retry: false, batch: false });
    let stop = false;
    const worker = async (c: number) => {
      let n = 0;
      while (!stop) {
        const events = Array.from({ length: options.batchSize }, (_, i) => ({
          externalSessionId: `rel-shutdown-${c}`,
          eventType: "note",
          message: `c${c} n${n} i${i}`,
        }));
        n += 1;
        try {
          const result = await client.ingest(events);
          report.ackedCalls += 1;
          acked.push(...result.ids);
        } catch {
          report.failedCalls += 1;
          await sleep(50);
        }
      }
    };
    const workers = Array.from({ length: options.clients }, (_, c) => worker(c));
    await sleep(options.loadMs / 2);
    const t = performance.now();
    options.log?.("shutdown: SIGTERM under load");
    await server.kill("SIGTERM");
    report.stopMs = round(performance.now() - t, 0);
    report.stopExit = server.exit;
    await server.restart();
    await sleep(options.loadMs / 2);
    stop = true;
    await Promise.all(workers);
    report.ackedEvents = acked.length;
    const found = new Set<string>();
    for (let i = 0; i < acked.length; i += 5_000) {
      const rows = await cluster
        .knex("events")
        .whereIn("id", acked.slice(i, i + 5_000))
        .select("id");
      for (const r of rows as Array<{ id: string }>) found.add(r.id);
    }
    report.ackedButMissing = acked.filter((id) => !found.has(id)).length;
  } finally {
    await server.stop();
  }
  report.durationMs = performance.now() - started;
  return report;
}
