import { accessSync, constants, readdirSync, statSync, unlinkSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { parseArgs } from "node:util";

import { type EmitterConfig, loadConfig, readCredentials } from "./config.js";
import { deliver } from "./deliver.js";
import { httpRequest } from "./http.js";
import { logLine } from "./log.js";
import {
  DELIVER_LOCK_FILE,
  flushSpool,
  hasSpooled,
  listSpool,
  LOCK_FILE,
  lockHeldByLiveProcess,
  type FlushResult,
} from "./spool.js";

/**
 * Every command but recording: `flush`, `status`, `install`, `uninstall`, `import`, `help`.
 * Loaded only when one of them is asked for. These talk to a person: output on stdout and
 * stderr, and an exit code that says whether it worked (0 yes, 1 no, 2 bad usage).
 */

export const USAGE = `logbook-hook: records Claude Code hook events into Logbook.

Usage:
  logbook-hook                   record one hook event from stdin (what Claude Code runs)
  logbook-hook flush [--quiet]   send the spooled events now
  logbook-hook deliver           the background deliverer a hook starts (runs until idle)
  logbook-hook status [--json]   server reachable? key valid? spool size
  logbook-hook install [--user|--project|--settings FILE] [--events A,B] [--http]
                       [--async] [--url URL] [--api-key KEY] [--command CMD] [--dry-run]
  logbook-hook uninstall [--user|--project|--settings FILE] [--dry-run]
  logbook-hook import [PATH...] [--url URL] [--api-key KEY] [--json] [--no-progress]
                                 import transcripts (default ~/.claude/projects)

Environment: LOGBOOK_URL (default http://127.0.0.1:4680), LOGBOOK_API_KEY,
LOGBOOK_HOME (default ~/.logbook; holds credentials, spool/, logs/hook.log),
LOGBOOK_HOOK_DELIVERY (background | direct), LOGBOOK_DELIVER_IDLE_MS (default 120000).
`;

class UsageError extends Error {}

export async function runCli(command: string, args: string[]): Promise<number> {
  try {
    switch (command) {
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE);
        return 0;
      case "flush":
        return await flushCommand(args);
      case "deliver":
        return await deliverCommand(args);
      case "status":
        return await statusCommand(args);
      case "install":
      case "uninstall":
        return await (await import("./commands/install.js")).installCommand(command, args);
      case "import":
        return await importCommand(args);
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true) {
      process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`logbook-hook ${command}: ${(error as Error).message}\n`);
    return 1;
  }
}

function describeFlush(result: FlushResult): string {
  const sent = `sent ${result.accepted + result.duplicates} (${result.accepted} new, ${result.duplicates} already stored)`;
  const rejected = result.rejected > 0 ? `, ${result.rejected} refused (see spool/rejected/)` : "";
  return `${sent}${rejected}, ${result.remaining} left in the spool`;
}

function cleanStaleTemp(spoolDir: string): void {
  const tmpDir = join(spoolDir, "tmp");
  try {
    for (const name of readdirSync(tmpDir)) {
      const path = join(tmpDir, name);
      if (Date.now() - statSync(path).mtimeMs > 3_600_000) unlinkSync(path);
    }
  } catch {
    // no temp dir
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Sends the whole spool. `--quiet` (the background flush a hook starts) gives up at once when
 * another process flushes; otherwise it waits for that one to finish, then sends what is left.
 * After letting the lock go it looks again, so an event spooled during the last batch is not
 * left behind until the next hook.
 */
async function flushCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { quiet: { type: "boolean" } }, strict: true });
  const quiet = values.quiet === true;
  const config = loadConfig();
  const log = (level: "info" | "warn" | "error", message: string) => logLine(config.logFile, level, message);
  cleanStaleTemp(config.spoolDir);
  const total: FlushResult = { stop: "empty", accepted: 0, duplicates: 0, rejected: 0, remaining: 0 };
  const waitUntil = Date.now() + 120_000;
  for (let round = 0; round < 1000; round++) {
    const result = await flushSpool(
      config.spoolDir,
      { url: config.url, apiKey: config.apiKey },
      { timeoutMs: 30_000, log },
    );
    total.accepted += result.accepted;
    total.duplicates += result.duplicates;
    total.rejected += result.rejected;
    total.remaining = result.remaining;
    total.stop = result.stop;
    if (result.message !== undefined) total.message = result.message;
    if (result.stop === "locked") {
      if (quiet || Date.now() > waitUntil) break;
      await sleep(200);
      continue;
    }
    if (result.stop === "empty" || result.stop === "lost-lock") {
      if (hasSpooled(config.spoolDir)) continue;
      total.remaining = 0;
      break;
    }
    break;
  }
  if (total.accepted + total.duplicates + total.rejected > 0 || (total.stop !== "empty" && total.stop !== "locked")) {
    log(
      total.stop === "empty" ? "info" : "warn",
      `flush: ${describeFlush(total)}${total.message ? ` (${total.message})` : ""}`,
    );
  }
  if (!quiet) {
    if (total.stop === "locked") process.stdout.write("another flush is still running; try again later\n");
    else
      process.stdout.write(
        `${describeFlush(total)}${total.stop === "empty" ? "" : `: ${total.message ?? total.stop}`}\n`,
      );
  }
  return total.remaining === 0 ? 0 : 1;
}

/** How long a deliverer stays without new events (`LOGBOOK_DELIVER_IDLE_MS`). */
export const DEFAULT_DELIVER_IDLE_MS = 120_000;

/**
 * The resident deliverer a hook starts (see `deliver.ts`). Quiet: it runs detached, so
 * problems go to the log. Exit 0 whatever happened; SIGTERM/SIGINT/SIGHUP stop it cleanly.
 */
async function deliverCommand(args: string[]): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  const config = loadConfig();
  const log = (level: "info" | "warn" | "error", message: string) => logLine(config.logFile, level, message);
  const idle = Number(process.env.LOGBOOK_DELIVER_IDLE_MS);
  const idleMs =
    Number.isFinite(idle) && idle >= 0 && process.env.LOGBOOK_DELIVER_IDLE_MS !== "" ? idle : DEFAULT_DELIVER_IDLE_MS;
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(signal, () => {
      stop.abort();
      // A request in flight may take its whole budget: do not wait for it (the locks name a dead pid then).
      setTimeout(() => process.exit(0), 1_000).unref();
    });
  }
  cleanStaleTemp(config.spoolDir);
  try {
    await deliver(config.spoolDir, {
      idleMs,
      target: () => {
        const fresh = loadConfig();
        return { url: fresh.url, apiKey: fresh.apiKey };
      },
      log,
      signal: stop.signal,
    });
  } catch (error) {
    // Nobody reads this process's stderr: the log is the only place a failure can be seen.
    log(
      "error",
      `deliver: stopped by an unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
  return 0;
}

interface StatusReport {
  url: string;
  home: string;
  keySource: "env" | "credentials" | "none";
  /** How hooks deliver (`LOGBOOK_HOOK_DELIVERY`, `LOGBOOK_NO_BACKGROUND_FLUSH`). */
  delivery: EmitterConfig["delivery"];
  server: { reachable: boolean; status?: string; error?: string };
  key: { valid: boolean; name?: string; scopes?: string[]; error?: string };
  spool: {
    events: number;
    bytes: number;
    oldest?: string;
    rejected: number;
    flushing: boolean;
    delivering: boolean;
    dir: string;
  };
  log: string;
}

function timeOfUuidv7(id: string): string | undefined {
  const ms = parseInt(id.replace(/-/g, "").slice(0, 12), 16);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: "boolean" } }, strict: true });
  const config = loadConfig();
  const keySource = process.env.LOGBOOK_API_KEY
    ? "env"
    : readCredentials(config.credentialsFile).apiKey
      ? "credentials"
      : "none";
  const report: StatusReport = {
    url: config.url,
    home: config.home,
    keySource,
    delivery: config.delivery,
    server: { reachable: false },
    key: { valid: false },
    spool: spoolStats(config),
    log: config.logFile,
  };
  try {
    const health = await httpRequest("GET", `${config.url}/health`, { timeoutMs: 3_000 });
    report.server.reachable = health.status > 0 && health.status < 500;
    try {
      const status = (JSON.parse(health.body) as { status?: unknown }).status;
      if (typeof status === "string") report.server.status = status;
    } catch {
      report.server.status = `HTTP ${health.status}`;
    }
  } catch (error) {
    report.server.error = (error as Error).message;
  }
  if (config.apiKey === undefined) {
    report.key.error = `no API key: set LOGBOOK_API_KEY or write ${config.credentialsFile}`;
  } else if (report.server.reachable) {
    try {
      const whoami = await httpRequest("GET", `${config.url}/trpc/auth.whoami`, {
        headers: { Authorization: `Bearer ${config.apiKey}` },
        timeoutMs: 3_000,
      });
      if (whoami.status === 200) {
        const data = (JSON.parse(whoami.body) as { result?: { data?: { name?: unknown; scopes?: unknown } } }).result
          ?.data;
        report.key.valid = true;
        if (typeof data?.name === "string") report.key.name = data.name;
        if (Array.isArray(data?.scopes))
          report.key.scopes = data.scopes.filter((s): s is string => typeof s === "string");
      } else {
        report.key.error = `HTTP ${whoami.status}`;
      }
    } catch (error) {
      report.key.error = (error as Error).message;
    }
  }
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [
      `server   ${config.url}: ${report.server.reachable ? `reachable (${report.server.status ?? "ok"})` : `NOT reachable (${report.server.error ?? report.server.status ?? "?"})`}`,
      `key      ${report.key.valid ? `valid: ${report.key.name ?? "?"} [${(report.key.scopes ?? []).join(", ")}]` : `NOT valid (${report.key.error ?? "server unreachable"})`} (from ${keySource})`,
      `spool    ${report.spool.events} event(s), ${report.spool.bytes} bytes${report.spool.oldest ? `, oldest ${report.spool.oldest}` : ""}${report.spool.flushing ? ", a flush is running" : ""}${report.spool.delivering ? ", a deliverer is running" : ""} (${report.spool.dir})`,
      `rejected ${report.spool.rejected} (${join(report.spool.dir, "rejected")})`,
      `delivery ${report.delivery === "background" ? "background (hooks spool; a deliverer sends)" : "direct (each hook posts its event)"}`,
      `log      ${report.log}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  return report.server.reachable && report.key.valid ? 0 : 1;
}

function spoolStats(config: EmitterConfig): StatusReport["spool"] {
  const names = listSpool(config.spoolDir);
  let bytes = 0;
  for (const name of names) {
    try {
      bytes += statSync(join(config.spoolDir, name)).size;
    } catch {
      // flushed meanwhile
    }
  }
  let rejected = 0;
  try {
    rejected = readdirSync(join(config.spoolDir, "rejected")).filter(
      (name) => !name.startsWith(".") && name !== "tmp",
    ).length;
  } catch {
    // none
  }
  const flushing = lockHeldByLiveProcess(config.spoolDir, LOCK_FILE);
  const delivering = lockHeldByLiveProcess(config.spoolDir, DELIVER_LOCK_FILE);
  const oldest = names[0] === undefined ? undefined : timeOfUuidv7(names[0]);
  return {
    events: names.length,
    bytes,
    ...(oldest ? { oldest } : {}),
    rejected,
    flushing,
    delivering,
    dir: config.spoolDir,
  };
}

async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      "api-key": { type: "string" },
      json: { type: "boolean" },
      "no-progress": { type: "boolean" },
    },
    strict: true,
  });
  const config = loadConfig();
  const url = (values.url ?? config.url).replace(/\/+$/, "");
  const apiKey = values["api-key"] ?? config.apiKey;
  if (apiKey === undefined)
    throw new Error(`no API key: pass --api-key, set LOGBOOK_API_KEY or write ${config.credentialsFile}`);
  const paths = positionals.length > 0 ? positionals : [join(homedir(), ".claude", "projects")];
  const { runImport, ImportAborted } = await import("./importer.js");
  const progress = values["no-progress"] !== true && values.json !== true && process.stderr.isTTY;
  const print = (summary: {
    files: number;
    sessions: number;
    events: number;
    accepted: number;
    duplicates: number;
    errors: number;
  }) => {
    if (values.json === true) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else
      process.stdout.write(
        `files ${summary.files}, sessions ${summary.sessions}, events ${summary.events}: ` +
          `${summary.accepted} accepted, ${summary.duplicates} duplicates, ${summary.errors} errors\n`,
      );
  };
  try {
    const summary = await runImport({
      url,
      apiKey,
      paths,
      progress,
      report: (line) => process.stderr.write(`${line}\n`),
    });
    print(summary);
    return summary.errors > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof ImportAborted) {
      print(error.summary);
      process.stderr.write(`import stopped: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** Whether `logbook-hook` can be found on PATH, for install's hint. */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}
