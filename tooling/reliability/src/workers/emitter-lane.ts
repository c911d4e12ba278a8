/**
 * One emitter lane of the fault scenario, run as its own long-lived process. It records
 * `count` hook events one after another, as Claude Code would run `logbook-hook` for one
 * agent. Every `binaryEvery`-th event goes through the REAL bundled binary (a process per
 * event, stdin → `dist/logbook-hook.cjs`); the others through the emitter's own building
 * blocks from `@logbook/hook-emitter` in this process, in the same order of steps as
 * `record()` (src/record.ts): id and time first, post to /hooks/claude-code with a short
 * timeout, spool (the emitter's atomic `spoolEvent`) on any failure, queue behind a
 * non-empty spool and flush a little (`flushSpool`, one batch of ≤100, under the
 * emitter's flush lock). Progress goes to stdout as `P <done>` lines; the summary as `S <json>`.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import { envelopeText, flushSpool, httpRequest, judgeStdin, spoolEvent, uuidv7 } from "@logbook/hook-emitter";

interface LaneArgs {
  lane: number;
  count: number;
  binaryEvery: number;
  home: string;
  url: string;
  apiKey: string;
  hookBin: string;
}

const args = JSON.parse(process.argv[2] ?? "{}") as LaneArgs;
const spoolDir = join(args.home, "spool");
const machineId = hostname();
const HOOK_TIMEOUT_MS = 400;
const EVENTS = ["PreToolUse", "PostToolUse", "Notification", "UserPromptSubmit"];

const summary = { lane: args.lane, events: 0, viaBinary: 0, viaInProcess: 0, acked: 0, spooled: 0, refused: 0, binaryNonZeroExit: 0, binaryStdoutBytes: 0 };
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
    session_id: `rel-fault-${args.lane}-${i % 16}`,
    hook_event_name: EVENTS[i % EVENTS.length],
    cwd: `/work/lane-${args.lane}`,
    tool_name: "Bash",
    tool_input: { command: `echo ${i}` },
    rel_seq: `${args.lane}:${i}`,
  });
}

function runBinary(payload: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [args.hookBin], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOGBOOK_HOME: args.home, LOGBOOK_URL: args.url, LOGBOOK_API_KEY: args.apiKey },
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
      const result = await flushSpool(spoolDir, { url: args.url, apiKey: args.apiKey }, { timeoutMs: HOOK_TIMEOUT_MS, maxBatches: 1, maxBatchEvents: 100, maxBatchBytes: 1_000_000, bisect: false });
      if (result.stop === "unavailable") offlineUntil = Date.now() + 1_000;
    }
    return;
  }
  if (Date.now() < offlineUntil) return spool();
  let status: number;
  try {
    const response = await httpRequest("POST", `${args.url}/hooks/claude-code`, {
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${args.apiKey}`, "X-Logbook-Event-Id": id, "X-Logbook-Occurred-At": occurredAt, "X-Logbook-Machine-Id": machineId },
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

for (let i = 0; i < args.count; i++) {
  const payload = payloadOf(i);
  if (args.binaryEvery > 0 && i % args.binaryEvery === 0) {
    await runBinary(payload);
    summary.viaBinary += 1;
  } else {
    await recordInProcess(payload);
    summary.viaInProcess += 1;
  }
  summary.events += 1;
  if (summary.events % 50 === 0) process.stdout.write(`P ${summary.events}\n`);
}
process.stdout.write(`P ${summary.events}\nS ${JSON.stringify(summary)}\n`);
