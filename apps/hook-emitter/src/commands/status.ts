import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { type EmitterConfig, loadConfig, type OtelEnv, otelEnvOf } from "../config.js";
import { httpRequest } from "../http.js";
import { DELIVER_LOCK_FILE, LOCK_FILE, liveLockHolder, lockHeldByLiveProcess } from "../lock.js";
import { DEFAULT_HOOK_EVENTS, installedHooks } from "../settings.js";
import { listSpool, REASON_SUFFIX } from "../spool.js";
import { bytesBehind, syncedFiles } from "../sync.js";
import { FOLLOW_LOCK_FILE, loadFileStates, readSyncSettings } from "../sync-state.js";
import { defaultSyncRoots } from "./sync.js";

/** One settings file Claude Code reads hooks from, and what of Logbook it holds. */
interface HooksDoor {
  scope: "user" | "project" | "project-local";
  file: string;
  installed: boolean;
  events: number;
  kinds: Array<"command" | "http">;
  /** Events `install` would add now that this file lacks (an older install). */
  missing: string[];
  error?: string;
}

interface SyncDoor {
  /** `install` turned sync on (the deliverer starts a follower). */
  enabled: boolean;
  /** A follower runs now (its pid). */
  following: boolean;
  pid?: number;
  roots: string[];
  files: number;
  /** Bytes not sent yet, all files together, and the files that have some (largest first). */
  behindBytes: number;
  behind: Array<{ path: string; bytes: number }>;
  stateDir: string;
}

interface OtelDoor {
  /** `CLAUDE_CODE_ENABLE_TELEMETRY=1` with an OTLP endpoint, in the environment or a settings file's `env`. */
  enabled: boolean;
  source: "environment" | "settings" | "none";
  endpoint?: string;
  /** The endpoint is this Logbook server's URL. */
  pointsAtLogbook: boolean;
  protocol?: string;
  logsExporter?: string;
  metricsExporter?: string;
  /** An OTLP headers variable is set (the key; its value is never shown). */
  headers: boolean;
}

interface StatusReport {
  url: string;
  home: string;
  keySource: "env" | "credentials" | "none";
  /** How hooks deliver (`LOGBOOK_HOOK_DELIVERY`, `LOGBOOK_NO_BACKGROUND_FLUSH`). */
  delivery: EmitterConfig["delivery"];
  server: { reachable: boolean; status?: string; error?: string };
  /**
   * `checked`: the server said whether the key is valid (200, or 401/403). Unreachable, busy
   * (429) or failing (5xx), it said nothing about the key, and `valid: false` means unknown.
   */
  key: { valid: boolean; checked: boolean; name?: string; scopes?: string[]; error?: string };
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
  hooks: HooksDoor[];
  sync: SyncDoor;
  otel: OtelDoor;
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
    key: { valid: false, checked: false },
    spool: spoolStats(config),
    log: config.logFile,
    hooks: hooksDoors(config),
    sync: await syncDoor(config),
    otel: { enabled: false, source: "none", pointsAtLogbook: false, headers: false },
  };
  report.otel = otelDoor(config, report.hooks);
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
      report.key.checked = whoami.status === 200 || whoami.status === 401 || whoami.status === 403;
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
      `key      ${report.key.valid ? `valid: ${report.key.name ?? "?"} [${(report.key.scopes ?? []).join(", ")}]` : keyProblem(report.key)} (from ${keySource})`,
      `spool    ${report.spool.events} event(s), ${report.spool.bytes} bytes${report.spool.oldest ? `, oldest ${report.spool.oldest}` : ""}${report.spool.flushing ? ", a flush is running" : ""}${report.spool.delivering ? ", a deliverer is running" : ""} (${report.spool.dir})`,
      `rejected ${report.spool.rejected} (${join(report.spool.dir, "rejected")})`,
      `delivery ${report.delivery === "background" ? "background (hooks spool; a deliverer sends)" : "direct (each hook posts its event)"}`,
      ...report.hooks.map(
        (door) =>
          `hooks    ${door.scope} ${door.file}: ${
            door.error !== undefined
              ? `unreadable (${door.error})`
              : door.installed
                ? `${door.events} event(s), ${door.kinds.join("+")}${door.missing.length > 0 ? `; not yet: ${door.missing.join(", ")} (install again)` : ""}`
                : "not installed"
          }`,
      ),
      `sync     ${report.sync.enabled ? "on" : "off"}, ${report.sync.following ? `follower running (pid ${report.sync.pid ?? "?"})` : report.sync.enabled ? "no follower right now (the next hook's deliverer starts one)" : "no follower"}; ${report.sync.files} file(s), ${report.sync.behind.length} behind by ${report.sync.behindBytes} bytes`,
      ...report.sync.behind.slice(0, 5).map((file) => `           ${file.path}: ${file.bytes} bytes behind`),
      ...(report.sync.behind.length > 5
        ? [`           … and ${report.sync.behind.length - 5} more (--json lists all)`]
        : []),
      `otel     ${
        report.otel.enabled
          ? `on (${report.otel.source}): ${report.otel.endpoint ?? "?"}${report.otel.pointsAtLogbook ? " (this Logbook)" : " (not this Logbook)"}, logs ${report.otel.logsExporter ?? "unset"}, metrics ${report.otel.metricsExporter ?? "unset"}${report.otel.headers ? ", auth header set" : ", no auth header"}`
          : "off (CLAUDE_CODE_ENABLE_TELEMETRY and an OTLP endpoint are not both set)"
      }`,
      `log      ${report.log}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  return report.server.reachable && report.key.valid ? 0 : 1;
}

/** The key line when the key is not known to be valid: refused, or not checked at all. */
function keyProblem(key: StatusReport["key"]): string {
  if (key.checked) return `NOT valid (${key.error ?? "refused"})`;
  return `not checked (${key.error ?? "server unreachable"})`;
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

/** The settings files Claude Code takes hooks from, here: the user's, and this folder's project ones. */
function hooksDoors(config: EmitterConfig): HooksDoor[] {
  const files: Array<[HooksDoor["scope"], string]> = [
    ["user", join(config.claudeConfigDir, "settings.json")],
    ["project", resolve(".claude", "settings.json")],
    ["project-local", resolve(".claude", "settings.local.json")],
  ];
  const doors: HooksDoor[] = [];
  for (const [scope, file] of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      if (scope === "user") doors.push({ scope, file, installed: false, events: 0, kinds: [], missing: [] });
      continue; // no project settings here: not a door
    }
    try {
      const found = installedHooks(text);
      doors.push({
        scope,
        file,
        installed: found.events.length > 0,
        events: found.events.length,
        kinds: found.kinds,
        missing: found.events.length > 0 ? DEFAULT_HOOK_EVENTS.filter((event) => !found.events.includes(event)) : [],
      });
    } catch (error) {
      doors.push({ scope, file, installed: false, events: 0, kinds: [], missing: [], error: (error as Error).message });
    }
  }
  return doors;
}

async function syncDoor(config: EmitterConfig): Promise<SyncDoor> {
  // What the follower the deliverer starts reads (not a sync run by hand here).
  const roots = defaultSyncRoots(config, { current: false });
  const states = loadFileStates(config.syncDir);
  const behind: SyncDoor["behind"] = [];
  let files = 0;
  for (const path of await syncedFiles(roots)) {
    try {
      const bytes = bytesBehind(statSync(path), states);
      files++;
      if (bytes > 0) behind.push({ path, bytes });
    } catch {
      // gone meanwhile
    }
  }
  behind.sort((a, b) => b.bytes - a.bytes);
  const pid = liveLockHolder(config.syncDir, FOLLOW_LOCK_FILE);
  return {
    enabled: readSyncSettings(config.syncDir).follow,
    following: pid !== undefined || lockHeldByLiveProcess(config.syncDir, FOLLOW_LOCK_FILE),
    ...(pid !== undefined ? { pid } : {}),
    roots,
    files,
    behindBytes: behind.reduce((sum, file) => sum + file.bytes, 0),
    behind,
    stateDir: join(config.syncDir, "files"),
  };
}

/**
 * Claude Code's telemetry export: on when `CLAUDE_CODE_ENABLE_TELEMETRY=1` and an OTLP
 * endpoint are set, in this environment (where Claude Code usually starts) or in the `env`
 * block of a settings file, which Claude Code applies to itself.
 */
function otelDoor(config: EmitterConfig, hooks: HooksDoor[]): OtelDoor {
  const on = (env: OtelEnv) => env.enableTelemetry === "1" && env.endpoint !== undefined;
  let source: OtelDoor["source"] = "none";
  let env = config.otel;
  if (on(env)) source = "environment";
  else {
    for (const door of hooks) {
      try {
        const fromSettings = otelEnvOf(installedHooks(readFileSync(door.file, "utf8")).env);
        if (on(fromSettings)) {
          env = fromSettings;
          source = "settings";
          break;
        }
      } catch {
        // unreadable: reported under hooks
      }
    }
  }
  const endpoint = env.endpoint?.replace(/\/+$/, "");
  return {
    enabled: source !== "none",
    source,
    ...(endpoint !== undefined ? { endpoint } : {}),
    pointsAtLogbook: endpoint !== undefined && (endpoint === config.url || endpoint.startsWith(`${config.url}/`)),
    ...(env.protocol !== undefined ? { protocol: env.protocol } : {}),
    ...(env.logsExporter !== undefined ? { logsExporter: env.logsExporter } : {}),
    ...(env.metricsExporter !== undefined ? { metricsExporter: env.metricsExporter } : {}),
    headers: env.headersSet,
  };
}
