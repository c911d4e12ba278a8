import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { type EmitterConfig, loadConfig, serverUrlArgument } from "../config.js";
import { logLine } from "../log.js";
import { readSyncSettings } from "../sync-state.js";
import { replacedNote } from "../flush.js";
import type { SyncSummary } from "../sync.js";

/**
 * Claude Code's transcripts in every configuration folder installed with sync, and the folders
 * `install --sync-path` added. `current`: this environment's `$CLAUDE_CONFIG_DIR` too (a sync
 * someone runs; the follower the deliverer starts follows only what was installed with sync,
 * so a folder installed with `--no-sync` is not read). A settings file an older install wrote
 * records no folders: then this environment's, as that install followed.
 */
export function defaultSyncRoots(config: EmitterConfig, options: { current: boolean }): string[] {
  const settings = readSyncSettings(config.syncDir);
  const installed = settings.claudeConfigDirs ?? [config.claudeConfigDir];
  const configDirs = options.current ? [config.claudeConfigDir, ...installed] : installed;
  return [...new Set([...configDirs.map((dir) => join(resolve(dir), "projects")), ...settings.paths])];
}

/**
 * `logbook-hook sync [PATH...] [--follow] [--idle-exit] [--json] [--no-progress]`: sends what
 * transcript files gained since the last sync (default: `$CLAUDE_CONFIG_DIR/projects` and the
 * folders in `sync/settings.json`). One pass, then exit: 0 when every file was sent up to its
 * last complete line, 1 when a line was skipped or the server could not take the rest (it is
 * sent next time). `--follow`: stay and send lines as they are appended (see `sync-follow.ts`);
 * exit 0 when stopped, or at once when another follower runs. `--idle-exit`: a follower that
 * exits after `LOGBOOK_SYNC_IDLE_MS` without a change (how the deliverer starts it; quiet:
 * everything goes to the log).
 */
export async function syncCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      follow: { type: "boolean" },
      "idle-exit": { type: "boolean" },
      json: { type: "boolean" },
      "no-progress": { type: "boolean" },
      url: { type: "string" },
      "api-key": { type: "string" },
    },
    strict: true,
  });
  const config = loadConfig();
  const roots =
    positionals.length > 0 ? positionals : defaultSyncRoots(config, { current: values["idle-exit"] !== true });
  const missing = positionals.filter((path) => {
    try {
      statSync(path);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    process.stderr.write(`logbook-hook sync: no such file or folder: ${missing.join(", ")}\n`);
    return 1;
  }
  const url = values.url === undefined ? config.url.replace(/\/+$/, "") : serverUrlArgument(values.url);
  const apiKey = values["api-key"] ?? config.apiKey;
  const log = (level: "info" | "warn" | "error", message: string) => logLine(config.logFile, level, message);
  const background = values["idle-exit"] === true;
  if (apiKey === undefined) {
    const message = `no API key: pass --api-key, set LOGBOOK_API_KEY or write ${config.credentialsFile}`;
    if (background) {
      log("warn", `sync: ${message}`);
      return 0;
    }
    throw new Error(message);
  }
  const target = { url, apiKey, timeoutMs: 60_000 };

  if (values.follow === true || background) {
    const { follow } = await import("../sync-follow.js");
    const stop = new AbortController();
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.once(signal, () => stop.abort());
    const end = await follow(roots, {
      target,
      syncDir: config.syncDir,
      retries: 0,
      idleExitMs: background ? config.syncIdleMs : 0,
      report: (line) => log("warn", `sync: ${line}`),
      log,
      signal: stop.signal,
    });
    if (end === "busy" && !background) process.stdout.write("a sync follower is already running here\n");
    if (end === "lost-lock") log("warn", "sync: another follower took the lock over; this one stops");
    return 0;
  }

  const { syncOnce, emptySummary, SendStopped } = await import("../sync.js");
  const { ByteProgress } = await import("../progress.js");
  const { syncedFiles } = await import("../sync.js");
  const progressOn = values["no-progress"] !== true && values.json !== true && process.stderr.isTTY;
  let bar: InstanceType<typeof ByteProgress> | undefined;
  if (progressOn) {
    const files = await syncedFiles(roots);
    const total = files.reduce((sum, file) => {
      try {
        return sum + statSync(file).size;
      } catch {
        return sum;
      }
    }, 0);
    bar = new ByteProgress(total, files.length);
  }
  const summary = emptySummary();
  const print = (s: SyncSummary) => {
    if (values.json === true) process.stdout.write(`${JSON.stringify(s)}\n`);
    else
      process.stdout.write(
        `files ${s.files} (${s.changed} with new lines${s.restarted > 0 ? `, ${s.restarted} read again from the start` : ""}), ` +
          `events ${s.events}: ${s.accepted} accepted, ${s.duplicates} duplicates, ${s.errors} errors` +
          `${replacedNote(s.replacedCharacters)}\n`,
      );
  };
  try {
    await syncOnce(
      roots,
      {
        target,
        syncDir: config.syncDir,
        report: (line) => {
          bar?.clear();
          process.stderr.write(`${line}\n`);
        },
        ...(bar !== undefined
          ? {
              onProgress: (p: { bytes: number; fileIndex: number; events: number; errors: number }) =>
                bar.update(p.bytes, p.fileIndex, p),
            }
          : {}),
      },
      summary,
    );
    bar?.clear();
    print(summary);
    return summary.errors > 0 ? 1 : 0;
  } catch (error) {
    bar?.clear();
    if (error instanceof SendStopped) {
      print(summary);
      process.stderr.write(`sync stopped: ${error.message} (the rest is sent next time)\n`);
      return 1;
    }
    throw error;
  }
}
