import { fstatSync, readFileSync } from "node:fs";

import { type EmitterConfig, loadConfig } from "./config.js";
import { httpRequest } from "./http.js";
import { uuidv7 } from "./ids.js";
import { logLine } from "./log.js";
import {
  acquireLock,
  classifyStatus,
  DELIVER_LOCK_FILE,
  envelopeText,
  errorMessageOf,
  flushSpool,
  hasSpooled,
  recentlyOffline,
  lockHeldByLiveProcess,
  markOffline,
  spoolEvent,
  writeRejected,
} from "./spool.js";

/**
 * `logbook-hook` with no arguments: record one hook event. This is the hot path, run by
 * Claude Code on every tool call and prompt. Rules: exit 0, never a byte on stdout, every
 * problem to the log, never lose an event (spool it), never wait long (one short timeout),
 * load nothing beyond Node built-ins.
 *
 * By default a hook does not talk to the server at all: it spools the event and leaves the
 * sending to the resident deliverer (`deliver.ts`), starting one if none is running. Waiting
 * for the server's answer is what made a hook slow (a minimal script that only posts and
 * waits costs 1.4× a bare `node -e 0`; see docs/performance.md).
 */

/** Whole budget for the one request a hook makes. Claude Code gives SessionEnd hooks ~1.5 s. */
export const HOOK_TIMEOUT_MS = 400;
/** Payloads beyond this are not kept at all (the server refuses far smaller ones). */
export const MAX_STDIN_BYTES = 64 * 1024 * 1024;
/** Inline flush done by a hook that finds the spool non-empty: one small batch. */
const INLINE_BATCH_EVENTS = 100;
const INLINE_BATCH_BYTES = 1_000_000;

const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;

export type StdinVerdict =
  | { kind: "empty" }
  | { kind: "invalid"; reason: string }
  | { kind: "event"; json: string; eventName: string; sessionId: string };

/**
 * Decides what stdin holds. Mirrors the server's hook contract in a few cheap checks (an
 * object with a `session_id` and a `hook_event_name`) so a payload the server would refuse is
 * set aside now instead of blocking a spooled batch later. Unknown event names are fine.
 */
export function judgeStdin(raw: Buffer): StdinVerdict {
  let text = raw.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.trim();
  if (text === "") return { kind: "empty" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { kind: "invalid", reason: `stdin is not JSON (${(error as Error).message})` };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { kind: "invalid", reason: `stdin is JSON but not an object (${Array.isArray(parsed) ? "array" : parsed === null ? "null" : typeof parsed})` };
  }
  const { session_id: sessionId, hook_event_name: eventName } = parsed as Record<string, unknown>;
  if (typeof sessionId !== "string" || sessionId === "" || sessionId.length > 255) {
    return { kind: "invalid", reason: "payload has no usable session_id" };
  }
  if (typeof eventName !== "string" || !EVENT_NAME.test(eventName)) {
    return { kind: "invalid", reason: "payload has no usable hook_event_name" };
  }
  return { kind: "event", json: text, eventName, sessionId };
}

function readStdin(): Promise<Buffer> {
  try {
    return Promise.resolve(readFileSync(0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EAGAIN" && code !== "EWOULDBLOCK") throw error;
  }
  // A non-blocking stdin (some parents set O_NONBLOCK on the pipe): read it as a stream.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on("data", (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks)));
    process.stdin.on("error", reject);
  });
}

async function stdinIsTerminal(): Promise<boolean> {
  try {
    if (!fstatSync(0).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  const { isatty } = await import("node:tty");
  return isatty(0);
}

export async function record(): Promise<void> {
  if (await stdinIsTerminal()) {
    process.stderr.write(
      "logbook-hook records one Claude Code hook event from stdin; run by Claude Code.\n" +
        "Commands: logbook-hook install | uninstall | flush | status | import | help\n",
    );
    return;
  }
  const config = loadConfig();
  const log = (level: "info" | "warn" | "error", message: string) => logLine(config.logFile, level, message);
  const raw = await readStdin();
  const id = uuidv7();
  const occurredAt = new Date().toISOString();

  if (raw.length > MAX_STDIN_BYTES) {
    log("error", `event ${id}: stdin has ${raw.length} bytes, more than ${MAX_STDIN_BYTES}: not recorded`);
    return;
  }
  const verdict = judgeStdin(raw);
  if (verdict.kind === "empty") {
    log("warn", "stdin was empty: nothing to record");
    return;
  }
  if (verdict.kind === "invalid") {
    writeRejected(config.spoolDir, `${id}.raw`, raw);
    log("error", `event ${id}: ${verdict.reason}; kept in spool/rejected/${id}.raw`);
    return;
  }
  const envelope = envelopeText(id, occurredAt, config.machineId, verdict.json);
  const label = `event ${id} (${verdict.eventName}, session ${verdict.sessionId})`;

  if (config.delivery === "background") {
    spoolEvent(config.spoolDir, id, envelope);
    if (config.apiKey === undefined) {
      log("error", `${label}: no API key (set LOGBOOK_API_KEY or ${config.credentialsFile}): spooled`);
      return;
    }
    // Spooled first, looked second: a deliverer that lets its lock go re-reads the spool
    // afterwards, so either it sees our file or we see no deliverer and start one.
    if (!lockHeldByLiveProcess(config.spoolDir, DELIVER_LOCK_FILE)) await startInBackground(config, ["deliver"], log);
    return;
  }

  // Until the spool is empty, new events queue behind it so the server gets them in order.
  if (hasSpooled(config.spoolDir)) {
    spoolEvent(config.spoolDir, id, envelope);
    await flushALittle(config, log);
    return;
  }

  // If the hook is stopped mid-request (Claude Code's own timeout), keep the event.
  let settled = false;
  const onSignal = () => {
    if (!settled) {
      settled = true;
      spoolEvent(config.spoolDir, id, envelope);
      log("warn", `${label}: stopped by a signal while sending: spooled`);
    }
    process.exit(0);
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  process.once("SIGHUP", onSignal);

  const spool = (why: string, level: "warn" | "error" = "warn") => {
    settled = true;
    spoolEvent(config.spoolDir, id, envelope);
    log(level, `${label}: ${why}: spooled`);
  };

  if (config.apiKey === undefined) {
    spool(`no API key (set LOGBOOK_API_KEY or ${config.credentialsFile})`, "error");
    return;
  }
  if (recentlyOffline(config.spoolDir)) {
    spool("server was unreachable moments ago");
    return;
  }
  let status: number;
  let body = "";
  try {
    const response = await httpRequest("POST", `${config.url}/hooks/claude-code`, {
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${config.apiKey}`,
        "X-Logbook-Event-Id": id,
        "X-Logbook-Occurred-At": occurredAt,
        // Header values must be plain ASCII; the batch path carries the name in JSON instead.
        ...(/^[\x20-\x7e]+$/.test(config.machineId) ? { "X-Logbook-Machine-Id": config.machineId } : {}),
      },
      body: verdict.json,
      timeoutMs: Number(process.env.LOGBOOK_HOOK_TIMEOUT_MS) || HOOK_TIMEOUT_MS,
    });
    status = response.status;
    body = response.body;
  } catch (error) {
    markOffline(config.spoolDir);
    spool((error as Error).message);
    return;
  }
  switch (classifyStatus(status)) {
    case "ok":
      settled = true;
      return;
    case "refused":
      settled = true;
      writeRejected(config.spoolDir, `${id}.json`, envelope);
      log("error", `${label}: server refused it (HTTP ${status}: ${errorMessageOf(body)}); kept in spool/rejected/${id}.json`);
      return;
    case "unauthorized":
      spool(`server refused the API key (HTTP ${status}: ${errorMessageOf(body)})`, "error");
      return;
    case "unavailable":
      markOffline(config.spoolDir);
      spool(`server answered HTTP ${status} (${errorMessageOf(body)})`);
      return;
  }
}

/**
 * Our event is spooled behind older ones. Send one small batch now (unless the server was
 * unreachable moments ago or another process is flushing), and leave anything more to a
 * detached `logbook-hook flush` so this hook returns quickly.
 */
async function flushALittle(config: EmitterConfig, log: (level: "info" | "warn" | "error", message: string) => void): Promise<void> {
  if (config.apiKey === undefined || recentlyOffline(config.spoolDir)) return;
  const result = await flushSpool(
    config.spoolDir,
    { url: config.url, apiKey: config.apiKey },
    {
      timeoutMs: Number(process.env.LOGBOOK_HOOK_TIMEOUT_MS) || HOOK_TIMEOUT_MS,
      maxBatches: 1,
      maxBatchEvents: INLINE_BATCH_EVENTS,
      maxBatchBytes: INLINE_BATCH_BYTES,
      bisect: false,
      log,
    },
  );
  if (result.stop === "unauthorized" || result.stop === "no-key") log("error", result.message ?? result.stop);
  else if (result.stop === "unavailable") log("warn", `spool not sent: ${result.message ?? "server unavailable"}`);
  const more = result.stop === "limit" || (result.stop === "unavailable" && result.message?.includes("full flush") === true);
  // A flusher that finished between our spooling and our lock attempt may have missed our file.
  const stranded = result.stop === "empty" && hasSpooled(config.spoolDir) && !lockHeld(config.spoolDir);
  if (more || stranded) await startInBackground(config, ["flush", "--quiet"], log);
}

function lockHeld(spoolDir: string): boolean {
  const lock = acquireLock(spoolDir);
  if (!lock) return true;
  lock.release();
  return false;
}

/**
 * Starts `logbook-hook <args>` detached from the hook (own session, no stdio, working directory
 * the spool), so Claude Code neither waits for it nor kills it with the hook.
 */
async function startInBackground(
  config: EmitterConfig,
  args: string[],
  log: (level: "info" | "warn" | "error", message: string) => void,
): Promise<void> {
  if (!config.mayStartProcesses) return;
  const script = process.argv[1];
  if (script === undefined) return;
  const what = `logbook-hook ${args[0] ?? ""}`;
  try {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [script, ...args], { detached: true, stdio: "ignore", env: process.env, cwd: config.spoolDir });
    child.on("error", (error) => log("warn", `could not start ${what} in the background: ${error.message}`));
    child.unref();
  } catch (error) {
    log("warn", `could not start ${what} in the background: ${(error as Error).message}`);
  }
}
