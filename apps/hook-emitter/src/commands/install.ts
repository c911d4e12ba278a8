import { accessSync, constants, existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { loadConfig, readCredentials } from "../config.js";
import {
  commandHandler,
  DEFAULT_HOOK_EVENTS,
  EVENT_NAME,
  httpHandler,
  installHooks,
  isStandardLayout,
  SettingsError,
  uninstallHooks,
} from "../settings.js";
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
          }
        : {}),
    },
    strict: true,
  });
  const opt = values as Record<string, string | boolean | undefined>;
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
    for (const event of events)
      if (!EVENT_NAME.test(event)) throw new SettingsError(`not a hook event name: ${JSON.stringify(event)}`);
    if (events.length === 0) throw new SettingsError("--events lists no event");
    const url = typeof opt.url === "string" ? opt.url.replace(/\/+$/, "") : config.url;
    if (opt.http === true && opt.async === true)
      throw new SettingsError("--async applies to command hooks, not to --http");
    const handler =
      opt.http === true
        ? httpHandler(url)
        : commandHandler(typeof opt.command === "string" ? opt.command : "logbook-hook", { async: opt.async === true });
    edit = installHooks(before, { events, handler });
    if (opt.http === true) {
      notes.push(
        "http hooks read the key from LOGBOOK_API_KEY in the environment Claude Code runs in: export it there.",
      );
    } else {
      if (typeof opt.command !== "string" && !onPath("logbook-hook", config.searchPath)) {
        notes.push(
          'logbook-hook is not on PATH: install it globally, or pass --command "node /path/to/logbook-hook.cjs".',
        );
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
    }
  } else {
    edit = uninstallHooks(before);
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
    process.stdout.write(
      `${file}: ${command === "install" ? "added Logbook to" : "removed Logbook from"} ${edit.events.length} hook event(s): ${edit.events.join(", ")}\n`,
    );
  }
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
  return 0;
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
