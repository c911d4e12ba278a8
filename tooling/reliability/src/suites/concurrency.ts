import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

import { createLogbookClient, isLogbookError } from "@logbook/sdk";

import type { Cluster } from "../lib/cluster.js";
import { startServer } from "../lib/server.js";
import { sleep } from "../lib/stats.js";

const PACKAGE_DIR = fileURLToPath(new URL("../../", import.meta.url));
const WORKER = fileURLToPath(new URL("../workers/job-worker.ts", import.meta.url));

export interface ConcurrencyOptions {
  lockClients: number;
  lockRounds: number;
  jobs: number;
  workers: number;
  /** Workers SIGKILLed mid-job (each replaced by a new one). */
  kills: number;
  /** Workers paused (SIGSTOP) mid-job past their lease, then resumed. */
  stalls: number;
  deadlineMs: number;
  log?: (line: string) => void;
}

export interface ConcurrencyReport {
  locks: {
    clients: number;
    acquisitions: number;
    refusals: number;
    /** Times a client held the lock while another did too. Must be 0. */
    overlaps: number;
    /** Times `inspect` during a hold named someone else. Must be 0. */
    wrongOwnerSeen: number;
    otherErrors: number;
    expiredTakeover: { takenOver: boolean; staleRenewRefused: boolean; staleReleaseReleasedNothing: boolean };
  };
  jobs: {
    jobs: number;
    workersStarted: number;
    killedMidJob: number;
    stalledPastLease: number;
    completed: number;
    notCompleted: number;
    /** Jobs two workers both got an acknowledged completion for. Must be 0. */
    completedTwice: number;
    /** Completions refused because the lease had moved on (the stalled workers'). */
    staleCompletionsRefused: number;
    maxAttempts: number;
    timedOut: boolean;
  };
  durationMs: number;
}

/**
 * Lock and job-queue invariants with many parallel clients through the API: never two
 * lock holders; every job completed exactly once while workers are killed and stalled
 * mid-job and their leases are recovered by the server's schedule.
 */
export async function runConcurrency(cluster: Cluster, options: ConcurrencyOptions): Promise<ConcurrencyReport> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const leaseMs = 1_500;
  const server = await startServer(cluster.url, { JOB_RECOVERY_INTERVAL_MS: "500" });
  const adminKey = await server.createKey(["admin"], "concurrency");
  const report: ConcurrencyReport = {
    locks: {
      clients: options.lockClients,
      acquisitions: 0,
      refusals: 0,
      overlaps: 0,
      wrongOwnerSeen: 0,
      otherErrors: 0,
      expiredTakeover: { takenOver: false, staleRenewRefused: false, staleReleaseReleasedNothing: false },
    },
    jobs: {
      jobs: options.jobs,
      workersStarted: 0,
      killedMidJob: 0,
      stalledPastLease: 0,
      completed: 0,
      notCompleted: 0,
      completedTwice: 0,
      staleCompletionsRefused: 0,
      maxAttempts: 0,
      timedOut: false,
    },
    durationMs: 0,
  };
  const children = new Set<ChildProcess>();
  try {
    // ---- Locks: every client its own connection pool (its own SDK client).
    const admin = createLogbookClient({ url: server.url, apiKey: adminKey, batch: false });
    const project = await admin.projects.upsert.mutate({ path: `/rel/lock-${randomUUID()}`, name: "lock contention" });
    let holders = 0;
    const lockDeadline = Date.now() + options.deadlineMs / 3;
    await Promise.all(
      Array.from({ length: options.lockClients }, async (_, c) => {
        const client = createLogbookClient({ url: server.url, apiKey: server.apiKey, batch: false, retry: false });
        const owner = `client-${c}`;
        for (let round = 0; round < options.lockRounds && Date.now() < lockDeadline;) {
          try {
            await client.projects.locks.acquire.mutate({ projectId: project.id, owner, ttlMs: 60_000 });
          } catch (error) {
            if (isLogbookError(error) && error.code === "CONFLICT") report.locks.refusals += 1;
            else report.locks.otherErrors += 1;
            await sleep(Math.random() * 5);
            continue;
          }
          holders += 1;
          report.locks.acquisitions += 1;
          if (holders > 1) report.locks.overlaps += 1;
          const seen = await client.projects.locks.inspect.query({ projectId: project.id });
          if (seen?.owner !== owner) report.locks.wrongOwnerSeen += 1;
          await sleep(Math.random() * 5);
          holders -= 1;
          await client.projects.locks.release.mutate({ projectId: project.id, owner });
          round += 1;
        }
      }),
    );
    // A holder that dies: its lock expires, another takes it, the dead one's renew and release do nothing.
    const ghost = `ghost-${randomUUID()}`;
    await admin.projects.locks.acquire.mutate({ projectId: project.id, owner: ghost, ttlMs: 1_000 });
    await sleep(1_300);
    try {
      await admin.projects.locks.acquire.mutate({ projectId: project.id, owner: "successor", ttlMs: 60_000 });
      report.locks.expiredTakeover.takenOver = true;
    } catch {
      report.locks.expiredTakeover.takenOver = false;
    }
    try {
      await admin.projects.locks.renew.mutate({ projectId: project.id, owner: ghost, ttlMs: 60_000 });
    } catch {
      report.locks.expiredTakeover.staleRenewRefused = true;
    }
    const released = await admin.projects.locks.release
      .mutate({ projectId: project.id, owner: ghost })
      .catch(() => ({ released: false }));
    const after = await admin.projects.locks.inspect.query({ projectId: project.id });
    report.locks.expiredTakeover.staleReleaseReleasedNothing = !released.released && after?.owner === "successor";
    log(`concurrency: locks ${report.locks.acquisitions} acquisitions, ${report.locks.overlaps} overlaps`);

    // ---- Jobs
    const ids: string[] = [];
    for (let i = 0; i < options.jobs; i++)
      ids.push((await admin.jobs.enqueue.mutate({ type: "rel.work", data: { i }, maxAttempts: 20 })).id);
    const completions = new Map<string, number>();
    const working = new Map<ChildProcess, string | null>();
    /** Stalled workers that have not yet tried to complete their (lost) job. */
    const stalled = new Set<ChildProcess>();
    const spawnWorker = () => {
      const workerId = `worker-${report.jobs.workersStarted++}`;
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          WORKER,
          JSON.stringify({ url: server.url, apiKey: server.apiKey, workerId, leaseMs, workMs: 200 }),
        ],
        {
          cwd: PACKAGE_DIR,
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      children.add(child);
      working.set(child, null);
      let buffered = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          const [kind, id] = line.split(" ");
          if (kind === "W") working.set(child, id ?? null);
          if (kind === "C" && id) {
            completions.set(id, (completions.get(id) ?? 0) + 1);
            working.set(child, null);
          }
          if (kind === "X" || kind === "C") stalled.delete(child);
          if (kind === "X") {
            report.jobs.staleCompletionsRefused += 1;
            working.set(child, null);
          }
        }
      });
      child.on("exit", () => {
        children.delete(child);
        working.delete(child);
      });
    };
    for (let w = 0; w < options.workers; w++) spawnWorker();
    const midJob = async (): Promise<ChildProcess | null> => {
      for (let i = 0; i < 100; i++) {
        for (const [child, job] of working) if (job !== null && child.exitCode === null) return child;
        await sleep(20);
      }
      return null;
    };
    const deadline = Date.now() + options.deadlineMs;
    let kills = 0;
    let stalls = 0;
    const pending = async () => {
      const rows: Array<{ n: number | string }> = await cluster
        .knex("jobs")
        .whereIn("id", ids)
        .whereNot("status", "completed")
        .count({ n: "*" });
      return Number(rows[0]?.n ?? 0);
    };
    while (Date.now() < deadline) {
      const left = await pending();
      if (left === 0) break;
      if (kills < options.kills && left < options.jobs * (1 - (kills + 1) / (options.kills + 2))) {
        const victim = await midJob();
        if (victim) {
          victim.kill("SIGKILL");
          kills += 1;
          report.jobs.killedMidJob += 1;
          spawnWorker();
        }
      } else if (stalls < options.stalls && left < options.jobs * 0.5) {
        const victim = await midJob();
        if (victim) {
          victim.kill("SIGSTOP");
          stalled.add(victim);
          stalls += 1;
          report.jobs.stalledPastLease += 1;
          // Past the lease and a recovery run: its job is someone else's now.
          setTimeout(() => victim.kill("SIGCONT"), leaseMs + 2_500);
        }
      }
      await sleep(150);
    }
    // Let resumed workers try their stale completions before we look (bounded).
    for (let i = 0; i < 100 && stalled.size > 0; i++) await sleep(100);
    report.jobs.timedOut = (await pending()) > 0;
    const rows: Array<{ id: string; status: string; attempts: number }> = await cluster
      .knex("jobs")
      .whereIn("id", ids)
      .select("id", "status", "attempts");
    report.jobs.completed = rows.filter((r) => r.status === "completed").length;
    report.jobs.notCompleted = rows.length - report.jobs.completed;
    report.jobs.maxAttempts = Math.max(0, ...rows.map((r) => r.attempts));
    report.jobs.completedTwice = [...completions.values()].filter((n) => n > 1).length;
    log(`concurrency: jobs ${report.jobs.completed}/${options.jobs} completed, ${report.jobs.completedTwice} twice`);
  } finally {
    for (const child of children) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
    await server.stop();
  }
  report.durationMs = performance.now() - started;
  return report;
}
