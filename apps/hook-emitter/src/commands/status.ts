import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { type EmitterConfig, loadConfig } from "../config.js";
import { httpRequest } from "../http.js";
import { DELIVER_LOCK_FILE, LOCK_FILE, lockHeldByLiveProcess } from "../lock.js";
import { listSpool, REASON_SUFFIX } from "../spool.js";

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

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: "boolean" } }, strict: true });
  const config = loadConfig();
  const keySource = config.keySource;
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
      (name) => !name.startsWith(".") && name !== "tmp" && !name.endsWith(REASON_SUFFIX),
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
