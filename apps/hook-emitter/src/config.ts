import { readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { delimiter, join } from "node:path";

/**
 * Where the emitter keeps its files and how it reaches the server. Read on every hook run,
 * so it touches the disk only when the environment leaves something open.
 * Node built-ins only: this module is on the hot path.
 */
export interface EmitterConfig {
  /** `LOGBOOK_HOME`, default `~/.logbook`. */
  home: string;
  /** Base URL without a trailing slash. */
  url: string;
  /** Bearer key, or undefined when none is configured (events are then spooled). */
  apiKey: string | undefined;
  machineId: string;
  spoolDir: string;
  logFile: string;
  credentialsFile: string;
  /**
   * How a hook run delivers its event. `background` (default): it spools the event and makes
   * sure a resident deliverer (`logbook-hook deliver`) is running, which sends it. `direct`
   * (`LOGBOOK_HOOK_DELIVERY=direct`, or `LOGBOOK_NO_BACKGROUND_FLUSH=1`): the hook posts the
   * event itself and spools it only when that fails.
   */
  delivery: "background" | "direct";
  /** False with `LOGBOOK_NO_BACKGROUND_FLUSH=1`: a hook never starts another process. */
  mayStartProcesses: boolean;
  /** Where the API key came from (`status` shows it). */
  keySource: "env" | "credentials" | "none";
  /** `LOGBOOK_DELIVER_IDLE_MS`: how long the deliverer stays without new events. */
  deliverIdleMs: number;
  /** `LOGBOOK_HOOK_TIMEOUT_MS`: direct mode's budget for the one request a hook makes. */
  hookTimeoutMs: number;
  /** Claude Code's configuration folder: `$CLAUDE_CONFIG_DIR`, default `~/.claude`. */
  claudeConfigDir: string;
  /** `$PATH`, split: where `install` looks for `logbook-hook`. */
  searchPath: string[];
  /** `$LOGBOOK_HOME/sync`: transcript sync's settings, per-file offsets and lock. */
  syncDir: string;
  /** `LOGBOOK_SYNC_IDLE_MS`: how long a follower started by the deliverer stays without a transcript change. */
  syncIdleMs: number;
  /**
   * Claude Code's OpenTelemetry settings as this process sees them (`status` reports them;
   * they matter where Claude Code runs, which is usually the same shell). Header values hold
   * keys: only whether they are set is kept.
   */
  otel: OtelEnv;
}

export interface OtelEnv {
  /** `CLAUDE_CODE_ENABLE_TELEMETRY`. */
  enableTelemetry?: string;
  /** `OTEL_EXPORTER_OTLP_ENDPOINT`, else `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`. */
  endpoint?: string;
  /** `OTEL_EXPORTER_OTLP_PROTOCOL`. */
  protocol?: string;
  /** `OTEL_LOGS_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_TRACES_EXPORTER`. */
  logsExporter?: string;
  metricsExporter?: string;
  tracesExporter?: string;
  /** Whether `OTEL_EXPORTER_OTLP_HEADERS` (or the logs one) is set (never its value). */
  headersSet: boolean;
}

/** The OpenTelemetry variables of an environment (process or a settings file's `env` block). */
export function otelEnvOf(env: Record<string, string | undefined>): OtelEnv {
  const value = (name: string) => (env[name] !== undefined && env[name] !== "" ? env[name] : undefined);
  const out: OtelEnv = {
    headersSet:
      value("OTEL_EXPORTER_OTLP_HEADERS") !== undefined || value("OTEL_EXPORTER_OTLP_LOGS_HEADERS") !== undefined,
  };
  const set = (key: Exclude<keyof OtelEnv, "headersSet">, v: string | undefined) => {
    if (v !== undefined) out[key] = v;
  };
  set("enableTelemetry", value("CLAUDE_CODE_ENABLE_TELEMETRY"));
  set("endpoint", value("OTEL_EXPORTER_OTLP_ENDPOINT") ?? value("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"));
  set("protocol", value("OTEL_EXPORTER_OTLP_PROTOCOL"));
  set("logsExporter", value("OTEL_LOGS_EXPORTER"));
  set("metricsExporter", value("OTEL_METRICS_EXPORTER"));
  set("tracesExporter", value("OTEL_TRACES_EXPORTER"));
  return out;
}

export const DEFAULT_URL = "http://127.0.0.1:4680";
/** How long a deliverer stays without new events (`LOGBOOK_DELIVER_IDLE_MS`). */
export const DEFAULT_DELIVER_IDLE_MS = 120_000;
/** How long a sync follower started by the deliverer stays without a transcript change (`LOGBOOK_SYNC_IDLE_MS`). */
export const DEFAULT_SYNC_IDLE_MS = 600_000;
/** Direct mode's whole budget for the one request a hook makes. Claude Code gives SessionEnd hooks ~1.5 s. */
export const DEFAULT_HOOK_TIMEOUT_MS = 400;

export interface Credentials {
  apiKey?: string;
  url?: string;
}

/** Reads `$LOGBOOK_HOME/credentials`; a missing or unreadable file is "no credentials". */
export function readCredentials(file: string): Credentials {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (parsed === null || typeof parsed !== "object") return {};
    const { apiKey, url } = parsed as Record<string, unknown>;
    return {
      ...(typeof apiKey === "string" && apiKey !== "" ? { apiKey } : {}),
      ...(typeof url === "string" && url !== "" ? { url } : {}),
    };
  } catch {
    return {};
  }
}

/** A non-negative number of milliseconds from the environment; anything else is the default. */
function millis(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const ms = Number(value);
  return Number.isFinite(ms) && ms >= 0 ? ms : fallback;
}

/**
 * The one place the emitter reads its environment (`env`, default `process.env`): every
 * variable is parsed here, so the rest of the code gets typed values.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): EmitterConfig {
  const home = env.LOGBOOK_HOME && env.LOGBOOK_HOME !== "" ? env.LOGBOOK_HOME : join(homedir(), ".logbook");
  const credentialsFile = join(home, "credentials");
  let url = env.LOGBOOK_URL && env.LOGBOOK_URL !== "" ? env.LOGBOOK_URL : undefined;
  let apiKey = env.LOGBOOK_API_KEY && env.LOGBOOK_API_KEY !== "" ? env.LOGBOOK_API_KEY : undefined;
  const keyFromEnv = apiKey !== undefined;
  if (url === undefined || apiKey === undefined) {
    const credentials = readCredentials(credentialsFile);
    url ??= credentials.url;
    apiKey ??= credentials.apiKey;
  }
  const mayStartProcesses = env.LOGBOOK_NO_BACKGROUND_FLUSH !== "1";
  // A timeout of 0 would fail every request: treat it as unset, as before.
  const hookTimeoutMs = millis(env.LOGBOOK_HOOK_TIMEOUT_MS, DEFAULT_HOOK_TIMEOUT_MS) || DEFAULT_HOOK_TIMEOUT_MS;
  return {
    home,
    url: (url ?? DEFAULT_URL).replace(/\/+$/, ""),
    apiKey,
    machineId: hostname(),
    spoolDir: join(home, "spool"),
    logFile: join(home, "logs", "hook.log"),
    credentialsFile,
    delivery: mayStartProcesses && env.LOGBOOK_HOOK_DELIVERY !== "direct" ? "background" : "direct",
    mayStartProcesses,
    keySource: keyFromEnv ? "env" : apiKey !== undefined ? "credentials" : "none",
    deliverIdleMs: millis(env.LOGBOOK_DELIVER_IDLE_MS, DEFAULT_DELIVER_IDLE_MS),
    hookTimeoutMs,
    claudeConfigDir:
      env.CLAUDE_CONFIG_DIR && env.CLAUDE_CONFIG_DIR !== "" ? env.CLAUDE_CONFIG_DIR : join(homedir(), ".claude"),
    searchPath: (env.PATH ?? "").split(delimiter).filter((dir) => dir !== ""),
    syncDir: join(home, "sync"),
    syncIdleMs: millis(env.LOGBOOK_SYNC_IDLE_MS, DEFAULT_SYNC_IDLE_MS),
    otel: otelEnvOf(env),
  };
}

/**
 * A server URL given as `--url`: http(s) only (a typo must not end up in the credentials file
 * or the hooks), without trailing slashes.
 */
export function serverUrlArgument(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:"))
    throw new Error(`--url ${value}: must be an http:// or https:// URL, e.g. http://127.0.0.1:4680`);
  return value.replace(/\/+$/, "");
}
