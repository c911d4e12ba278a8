/**
 * One emitter lane of the fault scenario, run as its own long-lived process. It records
 * `count` hook events one after another, as Claude Code would run `logbook-hook` for one
 * agent. Every `binaryEvery`-th event goes through the REAL bundled binary (a process per
 * event, stdin → `dist/logbook-hook.cjs`, in the lane's delivery mode); the others through
 * the emitter's own building blocks from `@logbook/hook-emitter` in this process, in the
 * same order of steps as `record()` (src/record.ts) in that mode:
 *
 * - `background` (the emitter's default): id and time, spool the envelope (`spoolEvent`),
 *   then start the real `logbook-hook deliver` detached unless a live process holds the
 *   deliverer's lock (`lockHeldByLiveProcess`). Nothing waits for the server.
 * - `direct`: id and time first, post to /hooks/claude-code with a short timeout, spool on
 *   any failure, queue behind a non-empty spool and flush a little (`flushSpool`, one batch
 *   of ≤100, under the emitter's flush lock).
 *
 * Progress goes to stdout as `P <done>` lines; the summary as `S <json>`.
 */
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import {
  DELIVER_LOCK_FILE,
  envelopeText,
  flushSpool,
  httpRequest,
  judgeStdin,
  lockHeldByLiveProcess,
  spoolEvent,
  uuidv7,
} from "@logbook/hook-emitter";

interface LaneArgs {
  lane: number;
  count: number;
  binaryEvery: number;
  home: string;
  url: string;
  apiKey: string;
  hookBin: string;
  delivery: "background" | "direct";
  /** Marks this run's events (`rel_seq` is `<run>:<lane>:<i>`), so runs can share a database. */
  run: string;
  /**
   * While this file exists, the lane records no more events than the number in it: the suite
   * holds lanes short of the end until its last fault has hit (see `faults.ts`).
   */
  holdFile?: string;
}

const args = JSON.parse(process.argv[2] ?? "{}") as LaneArgs;
const spoolDir = join(args.home, "spool");
const machineId = hostname();
const HOOK_TIMEOUT_MS = 400;
const EVENTS = ["PreToolUse", "PostToolUse", "Notification", "UserPromptSubmit"];

const summary = {
  lane: args.lane,
  events: 0,
  viaBinary: 0,
  viaInProcess: 0,
  acked: 0,
  spooled: 0,
  refused: 0,
  deliverersStarted: 0,
  binaryNonZeroExit: 0,
  binaryStdoutBytes: 0,
};
/** What the hook's process gets: the lane's target, and its delivery mode. */
const hookEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  LOGBOOK_HOME: args.home,
  LOGBOOK_URL: args.url,
  LOGBOOK_API_KEY: args.apiKey,
  LOGBOOK_HOOK_DELIVERY: args.delivery,
};
let offlineUntil = 0;

function hasSpooled(): boolean {
  try {
    return readdirSync(spoolDir).some((name) => name.endsWith(".json"));
  } catch {
    return false;
  }
}

function payloadOf(i: number): string {
  return JSON.stringify({
    session_id: `rel-fault-${args.run}-${args.lane}-${i % 16}`,
    hook_event_name: EVENTS[i % EVENTS.length],
    cwd: `/work/lane-${args.lane}`,
    tool_name: "Bash",
    tool_input: { command: `echo ${i}` },
    rel_seq: `${args.run}:${args.lane}:${i}`,
  });
}

function runBinary(payload: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [args.hookBin], {
      env: hookEnv,
      stdio: ["pipe", "pipe", "ignore"],
    });
    child.stdout.on("data", (chunk: Buffer) => (summary.binaryStdoutBytes += chunk.length));
    child.on("close", (code) => {
      if (code !== 0) summary.binaryNonZeroExit += 1;
      resolve();
    });
    child.stdin.end(payload);
  });
}

/** `record()` in background mode: spool, then make sure a deliverer runs (as `startInBackground` does). */
function recordInBackground(payload: string): void {
  const id = uuidv7();
  const verdict = judgeStdin(Buffer.from(payload));
  if (verdict.kind !== "event") throw new Error(`lane payload judged ${verdict.kind}`);
  spoolEvent(spoolDir, id, envelopeText(id, new Date().toISOString(), machineId, verdict.json));
  summary.spooled += 1;
  if (lockHeldByLiveProcess(spoolDir, DELIVER_LOCK_FILE)) return;
  const child = spawn(process.execPath, [args.hookBin, "deliver"], {
    detached: true,
    stdio: "ignore",
    env: hookEnv,
    cwd: spoolDir,
  });
  child.on("error", (error) =>
    process.stderr.write(`lane ${args.lane}: could not start a deliverer: ${error.message}\n`),
  );
  child.unref();
  summary.deliverersStarted += 1;
}

async function recordInProcess(payload: string): Promise<void> {
  const id = uuidv7();
  const occurredAt = new Date().toISOString();
  const verdict = judgeStdin(Buffer.from(payload));
  if (verdict.kind !== "event") throw new Error(`lane payload judged ${verdict.kind}`);
  const envelope = envelopeText(id, occurredAt, machineId, verdict.json);
  const spool = () => {
    spoolEvent(spoolDir, id, envelope);
    summary.spooled += 1;
  };
  if (hasSpooled()) {
    spool();
    if (Date.now() >= offlineUntil) {
      const result = await flushSpool(
        spoolDir,
        { url: args.url, apiKey: args.apiKey },
        { timeoutMs: HOOK_TIMEOUT_MS, maxBatches: 1, maxBatchEvents: 100, maxBatchBytes: 1_000_000, bisect: false },
      );
      if (result.stop === "unavailable") offlineUntil = Date.now() + 1_000;
    }
    return;
  }
  if (Date.now() < offlineUntil) return spool();
  let status: number;
  try {
    const response = await httpRequest("POST", `${args.url}/hooks/claude-code`, {
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${args.apiKey}`,
        "X-Logbook-Event-Id": id,
        "X-Logbook-Occurred-At": occurredAt,
        "X-Logbook-Machine-Id": machineId,
      },
      body: verdict.json,
      timeoutMs: HOOK_TIMEOUT_MS,
    });
    status = response.status;
  } catch {
    offlineUntil = Date.now() + 1_000;
    return spool();
  }
  if (status >= 200 && status < 300) {
    summary.acked += 1;
    return;
  }
  if (status === 400 || status === 413 || status === 422) {
    summary.refused += 1; // the suite expects none: every payload here is valid
    return;
  }
  if (status !== 401 && status !== 403) offlineUntil = Date.now() + 1_000;
  spool();
}

/** The most events this lane may record for now, from `holdFile`; no limit without one. */
function heldAt(): number {
  if (!args.holdFile) return Infinity;
  try {
    return Number(readFileSync(args.holdFile, "utf8"));
  } catch {
    return Infinity; // gone: the hold is lifted
  }
}

for (let i = 0; i < args.count; i++) {
  if (summary.events >= heldAt()) {
    // Say where we stand, so the suite's progress count reaches its next fault.
    process.stdout.write(`P ${summary.events}\n`);
    while (summary.events >= heldAt()) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const payload = payloadOf(i);
  if (args.binaryEvery > 0 && i % args.binaryEvery === 0) {
    await runBinary(payload);
    summary.viaBinary += 1;
  } else {
    if (args.delivery === "background") recordInBackground(payload);
    else await recordInProcess(payload);
    summary.viaInProcess += 1;
  }
  summary.events += 1;
  if (summary.events % 50 === 0) process.stdout.write(`P ${summary.events}\n`);
}
process.stdout.write(`P ${summary.events}\nS ${JSON.stringify(summary)}\n`);
