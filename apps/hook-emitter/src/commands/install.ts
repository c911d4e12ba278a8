import { accessSync, constants, existsSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { type EmitterConfig, loadConfig, readCredentials, serverUrlArgument } from "../config.js";
import {
  CLAUDE_CODE_HOOK_EVENTS,
  commandHandler,
  COMMAND_ONLY_EVENTS,
  CORE_HOOK_EVENTS,
  DEFAULT_HOOK_EVENTS,
  EVENT_NAME,
  httpHandler,
  installEnv,
  installHooks,
  isDocumentedHookEvent,
  isStandardLayout,
  OLDER_CLAUDE_CODE_NOTE,
  otelEnvironment,
  REFUSED_HOOK_EVENTS,
  SettingsError,
  uninstallHooks,
  uninstallOtelEnv,
} from "../settings.js";
import { readSyncSettings, writeSyncSettings } from "../sync-state.js";
import { unifiedDiff } from "../unified-diff.js";
import { readIfExists, settingsPath, writeFileAtomic } from "./settings-file.js";

/**
 * `install` / `uninstall`: edit Claude Code's settings file. Writes only when something
 * changes (a file we have nothing to do with stays untouched), atomically, and `--dry-run`
 * shows the unified diff instead of writing.
 */
export const installCommand = (args: string[]): Promise<number> => editSettings("install", args);
export const uninstallCommand = (args: string[]): Promise<number> => editSettings("uninstall", args);

async function editSettings(command: "install" | "uninstall", args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      user: { type: "boolean" },
      project: { type: "boolean" },
      settings: { type: "string" },
      "dry-run": { type: "boolean" },
      ...(command === "install"
        ? {
            url: { type: "string" },
            "api-key": { type: "string" },
            events: { type: "string" },
            http: { type: "boolean" },
            async: { type: "boolean" },
            command: { type: "string" },
            "no-sync": { type: "boolean" },
            "sync-path": { type: "string", multiple: true },
            otel: { type: "boolean" },
            print: { type: "boolean" },
          }
        : { otel: { type: "boolean" } }),
    },
    strict: true,
  });
  const opt = values as Record<string, string | boolean | string[] | undefined>;
  if (opt.user === true && opt.project === true) throw new SettingsError("choose one of --user and --project");
  const config = loadConfig();
  const file = settingsPath(
    {
      project: opt.project === true,
      ...(typeof opt.settings === "string" ? { settings: opt.settings } : {}),
    },
    config.claudeConfigDir,
  );
  const before = readIfExists(file);
  const dryRun = opt["dry-run"] === true;
  if (opt.print === true && opt.otel !== true) throw new SettingsError("--print goes with --otel");
  if (command === "install" && opt.otel === true) return installOtel(config, file, opt, dryRun);
  if (command === "uninstall" && opt.otel === true) return uninstallOtel(file, dryRun);

  let edit;
  const notes: string[] = [];
  if (command === "install") {
    const events =
      typeof opt.events === "string"
        ? opt.events
            .split(",")
            .map((event) => event.trim())
            .filter((event) => event !== "")
        : [...DEFAULT_HOOK_EVENTS];
    for (const event of events) {
      if (!EVENT_NAME.test(event)) throw new SettingsError(`not a hook event name: ${JSON.stringify(event)}`);
      const refused = REFUSED_HOOK_EVENTS.get(event);
      if (refused !== undefined) throw new SettingsError(`will not install a ${event} hook: ${refused}`);
      // Claude Code refuses a settings file that names an event it does not know, the whole
      // file (every setting in it, not only the hooks): a typo must not do that.
      if (!isDocumentedHookEvent(event))
        throw new SettingsError(
          `${event} is not a hook event Claude Code documents, and Claude Code skips a whole settings file that names one it does not know; the events: ${CLAUDE_CODE_HOOK_EVENTS.join(", ")}`,
        );
    }
    if (events.length === 0) throw new SettingsError("--events lists no event");
    const url = typeof opt.url === "string" ? serverUrlArgument(opt.url) : config.url;
    if (opt.http === true && opt.async === true)
      throw new SettingsError("--async applies to command hooks, not to --http");
    const hookCommand = typeof opt.command === "string" ? { command: opt.command } : defaultCommand(config.searchPath);
    const command = commandHandler(hookCommand.command, { async: opt.async === true });
    const http = opt.http === true ? httpHandler(url) : undefined;
    const commandEvents = http === undefined ? events : events.filter((event) => COMMAND_ONLY_EVENTS.has(event));
    if (hookCommand.note !== undefined && commandEvents.length > 0) notes.push(hookCommand.note);
    const handler = http === undefined ? command : (event: string) => (COMMAND_ONLY_EVENTS.has(event) ? command : http);
    edit = installHooks(before, { events, handler });
    if (http !== undefined) {
      notes.push(
        `http hooks post to ${http.url} with the key from LOGBOOK_API_KEY in the environment Claude Code runs in: export it there (the settings file names the variable, never the key).`,
      );
      if (commandEvents.length > 0)
        notes.push(`${commandEvents.join(", ")} cannot have http hooks: they run "${hookCommand.command}".`);
    }
    if (typeof opt.url === "string" || typeof opt["api-key"] === "string") {
      const credentials = { ...readCredentials(config.credentialsFile) };
      if (typeof opt.url === "string") credentials.url = url;
      if (typeof opt["api-key"] === "string") credentials.apiKey = opt["api-key"];
      if (dryRun) notes.push(`would write ${config.credentialsFile}`);
      else {
        writeFileAtomic(config.credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`, 0o600);
        notes.push(`wrote ${config.credentialsFile}`);
      }
    }
    notes.push(syncSetting(config, opt["no-sync"] !== true, (opt["sync-path"] as string[] | undefined) ?? [], dryRun));
    if (events.some((event) => !CORE_HOOK_EVENTS.has(event))) notes.push(OLDER_CLAUDE_CODE_NOTE);
  } else {
    edit = uninstallHooks(before);
    // Install turned transcript sync on; the user's uninstall turns it off (a project's
    // uninstall leaves it: the user's hooks and other projects may still rely on it).
    if (opt.project !== true && typeof opt.settings !== "string" && syncedFrom(config)) {
      notes.push(syncSetting(config, false, [], dryRun));
    }
  }

  if (!edit.changed) {
    process.stdout.write(
      command === "install"
        ? `${file}: Logbook hooks already installed, nothing to change\n`
        : `${file}: ${before === undefined ? "no such file" : "no Logbook hooks in it"}, nothing to change\n`,
    );
  } else if (dryRun) {
    process.stdout.write(unifiedDiff(file, before ?? "", edit.text));
  } else {
    if (before !== undefined && !isStandardLayout(before)) {
      const backup = `${file}.logbook-backup`;
      if (!existsSync(backup)) writeFileAtomic(backup, before);
      notes.push(`${file} was not in standard JSON layout and was re-formatted; the original is in ${backup}`);
    }
    writeFileAtomic(file, edit.text);
    const added = edit.events.filter((event) => !edit.replaced.includes(event));
    const what =
      command === "uninstall"
        ? [`removed Logbook from ${edit.events.length} hook event(s): ${edit.events.join(", ")}`]
        : [
            ...(added.length > 0 ? [`added Logbook to ${added.length} hook event(s): ${added.join(", ")}`] : []),
            ...(edit.replaced.length > 0
              ? [`replaced Logbook's earlier hook in ${edit.replaced.length} event(s): ${edit.replaced.join(", ")}`]
              : []),
          ];
    process.stdout.write(`${file}: ${what.join("; ")}\n`);
  }
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
  return 0;
}

/**
 * `install --otel`: Claude Code's telemetry to this Logbook (docs/otel.md). The variables go
 * into the settings file's `env` block, which is then made owner-only (0600): the OTLP
 * header carries the API key. `--print` prints them as `export` lines instead (the key
 * included: asked for), `--dry-run` shows the change with the key masked. Not into a
 * project's settings: that file is shared (and Claude Code ignores exporter settings there).
 */
function installOtel(
  config: EmitterConfig,
  file: string,
  opt: Record<string, string | boolean | string[] | undefined>,
  dryRun: boolean,
): number {
  const credentials = readCredentials(config.credentialsFile);
  const url = typeof opt.url === "string" ? serverUrlArgument(opt.url) : config.url.replace(/\/+$/, "");
  const apiKey = typeof opt["api-key"] === "string" ? opt["api-key"] : (config.apiKey ?? credentials.apiKey);
  if (apiKey === undefined)
    throw new SettingsError(
      `no API key: pass --api-key, set LOGBOOK_API_KEY, or start logbook-server once (it writes ${config.credentialsFile})`,
    );
  const vars = otelEnvironment(url, apiKey);
  if (opt.print === true) {
    for (const [key, value] of Object.entries(vars)) process.stdout.write(`export ${key}=${shellQuote(value)}\n`);
    return 0;
  }
  if (opt.project === true)
    throw new SettingsError("--otel writes your user settings (it holds a key): leave out --project, or use --print");
  const before = readIfExists(file);
  const edit = installEnv(before, vars);
  if (!edit.changed) {
    process.stdout.write(`${file}: OpenTelemetry to ${url} already set, nothing to change\n`);
  } else if (dryRun) {
    const masked = (text: string) => text.split(apiKey).join("<api key>");
    process.stdout.write(unifiedDiff(file, masked(before ?? ""), masked(edit.text)));
  } else {
    writeFileAtomic(file, edit.text, 0o600);
    process.stdout.write(
      `${file}: Claude Code sends its OpenTelemetry (logs and metrics, OTLP http/protobuf) to ${url}; the file is now owner-only (0600): it holds the API key\n`,
    );
  }
  return 0;
}

/**
 * `uninstall --otel`: takes out of the user's settings what `install --otel` put in, the key
 * with it, when it points at a Logbook; telemetry sent elsewhere is left alone.
 */
function uninstallOtel(file: string, dryRun: boolean): number {
  const before = readIfExists(file);
  const edit = uninstallOtelEnv(before);
  if (!edit.changed) {
    process.stdout.write(
      edit.elsewhere
        ? `${file}: its OpenTelemetry settings do not carry a Logbook key; left as they are\n`
        : `${file}: no OpenTelemetry settings of Logbook's, nothing to change\n`,
    );
  } else if (dryRun) {
    const masked = (text: string) => text.replace(/Bearer lbk_[A-Za-z0-9_-]+/g, "Bearer <api key>");
    process.stdout.write(unifiedDiff(file, masked(before ?? ""), masked(edit.text)));
  } else {
    writeFileAtomic(file, edit.text, 0o600);
    process.stdout.write(
      `${file}: Claude Code no longer sends its OpenTelemetry to Logbook; the key is out of the file\n`,
    );
  }
  return 0;
}

/**
 * Transcript sync, on by default: the deliverer then keeps a follower running while hooks fire
 * (`sync/settings.json`). `--no-sync` turns it off; `--sync-path` adds folders to follow. On and
 * off are per Claude Code configuration folder: someone with two (`CLAUDE_CONFIG_DIR` for work
 * and for home) who uninstalls one keeps the other's transcripts synced.
 */
function syncSetting(config: EmitterConfig, on: boolean, extra: string[], dryRun: boolean): string {
  const before = readSyncSettings(config.syncDir);
  const paths = [...new Set([...before.paths, ...extra.map((path) => resolve(path))])];
  const here = resolve(config.claudeConfigDir);
  const others = (before.claudeConfigDirs ?? []).filter((dir) => !sameFolder(dir, here));
  const claudeConfigDirs = on ? [here, ...others] : others;
  const projectsOf = (dirs: string[]) => dirs.map((dir) => join(dir, "projects"));
  const what = on
    ? `transcript sync on: ${[...projectsOf(claudeConfigDirs), ...paths].join(", ")} sent as they are written (logbook-hook sync --follow, started with the deliverer; --no-sync turns it off)`
    : others.length > 0
      ? `transcript sync off for ${join(here, "projects")}; still on for ${projectsOf(others).join(", ")} (installed with sync from there)`
      : "transcript sync off (logbook-hook sync sends transcripts when you run it)";
  // An older install turned sync on without saying for which folder: say how to record them.
  const unrecorded =
    before.claudeConfigDirs === null && before.follow
      ? "; sync was on from an install that did not record its Claude Code folder: run logbook-hook install again in each folder whose transcripts should stay synced"
      : "";
  if (dryRun) return `would turn ${what}${unrecorded}`;
  writeSyncSettings(config.syncDir, { follow: claudeConfigDirs.length > 0, paths, claudeConfigDirs });
  return `${what}${unrecorded}`;
}

/** Folders compare as the file system does: without case on Windows. */
function sameFolder(a: string, b: string): boolean {
  return process.platform === "win32" ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/** Whether this Claude Code folder's uninstall has sync to turn off: it was installed with it (or an older install did not say). */
function syncedFrom(config: EmitterConfig): boolean {
  const { follow, claudeConfigDirs } = readSyncSettings(config.syncDir);
  const here = resolve(config.claudeConfigDir);
  return follow && (claudeConfigDirs === null || claudeConfigDirs.some((dir) => sameFolder(dir, here)));
}

/** Whether `name` is an executable in one of `dirs` (what `sh` would find). */
function onPath(name: string, dirs: readonly string[]): boolean {
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** `value` as one word for `sh`: as it is when it has nothing special, else in single quotes. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

/**
 * The command hooks run when `--command` is not given: `logbook-hook` when a shell finds it on
 * PATH; otherwise this very copy by its absolute path (`node /abs/…/logbook-hook.cjs`, quoted
 * for `sh`, which is what Claude Code runs the command with), so the hooks work without any
 * PATH set-up. Node itself by its absolute path too when `node` is not on PATH either.
 */
function defaultCommand(searchPath: readonly string[]): { command: string; note?: string } {
  if (onPath("logbook-hook", searchPath)) return { command: "logbook-hook" };
  const script = process.argv[1];
  if (script === undefined) return { command: "logbook-hook" };
  let entry = resolve(script);
  try {
    entry = realpathSync(entry);
  } catch {
    // keep the path as given
  }
  const node = onPath("node", searchPath) ? "node" : process.execPath;
  const command = `${shellQuote(node)} ${shellQuote(entry)}`;
  return {
    command,
    note: `logbook-hook is not on PATH, so the hooks run this copy by its absolute path: ${command} (install again after moving it, or pass --command).`,
  };
}
