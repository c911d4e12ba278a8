import { fstatSync, readFileSync } from "node:fs";

import { startInBackground } from "./background.js";
import { loadConfig } from "./config.js";
import { uuidv7 } from "./ids.js";
import { logLine } from "./log.js";
import { DELIVER_LOCK_FILE, lockHeldByLiveProcess } from "./lock.js";
import { envelopeText, spoolEvent, writeRejected } from "./spool.js";

/**
 * `logbook-hook` with no arguments: record one hook event. This is the hot path, run by
 * Claude Code on every tool call and prompt. Rules: exit 0, never a byte on stdout, every
 * problem to the log, never lose an event (spool it), never wait long (one short timeout),
 * load nothing beyond Node built-ins.
 *
 * By default a hook does not talk to the server at all: it spools the event and leaves the
 * sending to the resident deliverer (`deliver.ts`), starting one if none is running. Waiting
 * for the server's answer is what made a hook slow (a minimal script that only posts and
 * waits costs 1.4× a bare `node -e 0`; see docs/performance.md). The direct mode, where the
 * hook posts the event itself, lives in `direct.ts`, a file of its own in the bundle, so the
 * default path does not compile it.
 */

/** Payloads beyond this are not kept at all (the server refuses far smaller ones). */
export const MAX_STDIN_BYTES = 64 * 1024 * 1024;
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
    return {
      kind: "invalid",
      reason: `stdin is JSON but not an object (${Array.isArray(parsed) ? "array" : parsed === null ? "null" : typeof parsed})`,
    };
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

function describeError(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
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
    try {
      writeRejected(config.spoolDir, `${id}.raw`, raw, verdict.reason);
      log("error", `event ${id}: ${verdict.reason}; kept in spool/rejected/${id}.raw`);
    } catch (error) {
      log("error", `event ${id}: ${verdict.reason}; could not be kept either (${describeError(error)})`);
    }
    return;
  }
  const envelope = envelopeText(id, occurredAt, config.machineId, verdict.json);
  const label = `event ${id} (${verdict.eventName}, session ${verdict.sessionId})`;

  if (config.delivery === "background") {
    try {
      spoolEvent(config.spoolDir, id, envelope);
    } catch (error) {
      // Full disk, unwritable spool: the deliverer cannot see this event, so send it now.
      const { deliverDirectly } = await import("./direct.js");
      await deliverDirectly(
        config,
        { id, occurredAt, envelope, label, json: verdict.json },
        log,
        `could not be spooled (${describeError(error)})`,
      );
      return;
    }
    if (config.apiKey === undefined) {
      log("error", `${label}: no API key (set LOGBOOK_API_KEY or ${config.credentialsFile}): spooled`);
      return;
    }
    // Spooled first, looked second: a deliverer that lets its lock go re-reads the spool
    // afterwards, so either it sees our file or we see no deliverer and start one.
    if (!lockHeldByLiveProcess(config.spoolDir, DELIVER_LOCK_FILE)) await startInBackground(config, ["deliver"], log);
    return;
  }

  const { deliverDirectly } = await import("./direct.js");
  await deliverDirectly(config, { id, occurredAt, envelope, label, json: verdict.json }, log);
}
