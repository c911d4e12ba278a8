import { startInBackground } from "./background.js";
import type { EmitterConfig } from "./config.js";
import { httpRequest } from "./http.js";
import { classifyStatus, errorMessageOf, flushSpool, replacedCharactersText } from "./flush.js";
import { LOCK_FILE, lockHeldByLiveProcess } from "./lock.js";
import { hasSpooled, markOffline, recentlyOffline, spoolEvent, writeRejected } from "./spool.js";

/**
 * Direct delivery (`LOGBOOK_HOOK_DELIVERY=direct`, or `LOGBOOK_NO_BACKGROUND_FLUSH=1`): the
 * hook posts its event to `POST /hooks/claude-code` and waits for the answer, spooling the
 * event when that fails. `record.ts` imports it on demand; the bundle builds it into a file of
 * its own (`logbook-hook-direct.cjs`, `require()`d at that moment), so the default
 * (background) path never reads or compiles it.
 */

/** Inline flush done by a hook that finds the spool non-empty: one small batch. */
const INLINE_BATCH_EVENTS = 100;
const INLINE_BATCH_BYTES = 1_000_000;

type Log = (level: "info" | "warn" | "error", message: string) => void;

export interface HookEvent {
  id: string;
  occurredAt: string;
  /** The spool envelope (`envelopeText`). */
  envelope: string;
  /** The payload as read from stdin. */
  json: string;
  /** How the log names it. */
  label: string;
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * Posts one event. `unspoolable` says why the event could not be spooled (full disk,
 * unwritable spool: the background path sends such an event this way rather than drop it);
 * it is then sent whatever the spool holds, and if that fails too it is lost, logged as such.
 */
export async function deliverDirectly(
  config: EmitterConfig,
  event: HookEvent,
  log: Log,
  unspoolable?: string,
): Promise<void> {
  const { id, occurredAt, envelope, label } = event;
  let cannotSpool = unspoolable;
  // Until the spool is empty, new events queue behind it so the server gets them in order.
  if (cannotSpool === undefined && hasSpooled(config.spoolDir)) {
    try {
      spoolEvent(config.spoolDir, id, envelope);
      await flushALittle(config, log);
      return;
    } catch (error) {
      cannotSpool = `could not be spooled (${codeOf(error)})`; // out of order beats lost
    }
  }

  // If the hook is stopped mid-request (Claude Code's own timeout), keep the event.
  let settled = false;
  const onSignal = () => {
    if (!settled) spool("stopped by a signal while sending");
    process.exit(0);
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  process.once("SIGHUP", onSignal);

  function spool(why: string, level: "warn" | "error" = "warn"): void {
    settled = true;
    if (cannotSpool === undefined) {
      try {
        spoolEvent(config.spoolDir, id, envelope);
        log(level, `${label}: ${why}: spooled`);
        return;
      } catch (error) {
        cannotSpool = `could not be spooled (${codeOf(error)})`;
      }
    }
    log("error", `${label}: ${why}, and it ${cannotSpool}: lost`);
  }

  if (config.apiKey === undefined) {
    spool(`no API key (set LOGBOOK_API_KEY or ${config.credentialsFile})`, "error");
    return;
  }
  if (cannotSpool === undefined && recentlyOffline(config.spoolDir)) {
    spool("server was unreachable moments ago");
    return;
  }
  let status: number;
  let body = "";
  let replaced = 0;
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
      body: event.json,
      timeoutMs: config.hookTimeoutMs,
    });
    status = response.status;
    body = response.body;
    replaced = Number(response.headers["x-logbook-replaced-characters"] ?? 0) || 0;
  } catch (error) {
    markOffline(config.spoolDir);
    spool((error as Error).message);
    return;
  }
  switch (classifyStatus(status)) {
    case "ok":
      settled = true;
      if (cannotSpool !== undefined) log("warn", `${label}: ${cannotSpool}: sent directly`);
      if (replaced > 0) log("warn", `${label}: ${replacedCharactersText(replaced)}`);
      return;
    case "refused": {
      settled = true;
      const reason = `the server refused it (HTTP ${status}: ${errorMessageOf(body)})`;
      try {
        writeRejected(config.spoolDir, `${id}.json`, envelope, reason);
        log("error", `${label}: ${reason}; kept in spool/rejected/${id}.json`);
      } catch (error) {
        log("error", `${label}: ${reason}; could not be kept in spool/rejected/ (${codeOf(error)})`);
      }
      return;
    }
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
async function flushALittle(config: EmitterConfig, log: Log): Promise<void> {
  if (config.apiKey === undefined || recentlyOffline(config.spoolDir)) return;
  const result = await flushSpool(
    config.spoolDir,
    { url: config.url, apiKey: config.apiKey },
    {
      timeoutMs: config.hookTimeoutMs,
      maxBatches: 1,
      maxBatchEvents: INLINE_BATCH_EVENTS,
      maxBatchBytes: INLINE_BATCH_BYTES,
      bisect: false,
      log,
    },
  );
  if (result.stop === "unauthorized" || result.stop === "no-key") log("error", result.message ?? result.stop);
  else if (result.stop === "unavailable") log("warn", `spool not sent: ${result.message ?? "server unavailable"}`);
  const more =
    result.stop === "limit" || (result.stop === "unavailable" && result.message?.includes("full flush") === true);
  // A flusher that finished between our spooling and our lock attempt may have missed our file.
  const stranded =
    result.stop === "empty" && hasSpooled(config.spoolDir) && !lockHeldByLiveProcess(config.spoolDir, LOCK_FILE);
  if (more || stranded) await startInBackground(config, ["flush", "--quiet"], log);
}
