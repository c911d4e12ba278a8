/**
 * Every command but recording, as a table: a name, and the module that runs it
 * (`commands/<name>.ts`), loaded only when that command is asked for. The entry (`main.ts`)
 * loads this file only when it has a command to run. These talk to a person: output on
 * stdout and stderr, and an exit code that says whether it worked (0 yes, 1 no, 2 bad usage).
 */

import packageJson from "../package.json" with { type: "json" };

type Run = (args: string[]) => Promise<number>;

/** A `Map`, not an object literal: the command name is user input (`logbook-hook constructor`). */
const COMMANDS = new Map<string, () => Promise<Run>>([
  ["flush", async () => (await import("./commands/flush.js")).flushCommand],
  ["deliver", async () => (await import("./commands/deliver.js")).deliverCommand],
  ["status", async () => (await import("./commands/status.js")).statusCommand],
  ["install", async () => (await import("./commands/install.js")).installCommand],
  ["uninstall", async () => (await import("./commands/install.js")).uninstallCommand],
  ["import", async () => (await import("./commands/import.js")).importCommand],
  ["sync", async () => (await import("./commands/sync.js")).syncCommand],
]);

const HELP = new Set(["help", "--help", "-h"]);
const VERSION_FLAGS = new Set(["--version", "-V", "version"]);

export const USAGE = `logbook-hook: records Claude Code hook events into Logbook.

Usage:
  logbook-hook                   record one hook event from stdin (what Claude Code runs)
  logbook-hook flush [--quiet]   send the spooled events now
  logbook-hook deliver           the background deliverer a hook starts (runs until idle)
  logbook-hook status [--json]   server and key; hooks, spool, sync, OTel: open? how far behind?
  logbook-hook install [--user|--project|--settings FILE] [--events A,B] [--http]
                       [--async] [--url URL] [--api-key KEY] [--command CMD]
                       [--no-sync] [--sync-path PATH]... [--dry-run]
  logbook-hook install --otel [--url URL] [--api-key KEY] [--print|--dry-run] [--settings FILE]
  logbook-hook uninstall [--user|--project|--settings FILE] [--dry-run]
  logbook-hook uninstall --otel [--settings FILE] [--dry-run]
  logbook-hook import [PATH...] [--url URL] [--api-key KEY] [--json] [--no-progress]
                                 import transcripts (default ~/.claude/projects)
  logbook-hook sync [PATH...] [--follow] [--json] [--no-progress] [--url URL] [--api-key KEY]
                                 send what transcripts gained since the last sync
                                 (--follow: keep sending lines as they are appended)
  logbook-hook --version         this logbook-hook's version

Environment: LOGBOOK_URL (default http://127.0.0.1:4680), LOGBOOK_API_KEY,
LOGBOOK_HOME (default ~/.logbook; holds credentials, spool/, logs/hook.log),
LOGBOOK_HOOK_DELIVERY (background | direct), LOGBOOK_DELIVER_IDLE_MS (default 120000),
LOGBOOK_HOOK_TIMEOUT_MS (direct mode, default 400), LOGBOOK_NO_BACKGROUND_FLUSH=1,
LOGBOOK_SYNC_IDLE_MS (default 600000), CLAUDE_CONFIG_DIR (default ~/.claude).
`;

function isUsageError(error: unknown): boolean {
  return (error as { code?: unknown }).code?.toString().startsWith("ERR_PARSE_ARGS") === true;
}

export async function runCli(command: string, args: string[]): Promise<number> {
  if (HELP.has(command)) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (VERSION_FLAGS.has(command)) {
    process.stdout.write(`${packageJson.version}\n`);
    return 0;
  }
  const load = COMMANDS.get(command);
  if (load === undefined) {
    process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (
      await load()
    )(args);
  } catch (error) {
    if (isUsageError(error)) {
      process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`logbook-hook ${command}: ${(error as Error).message}\n`);
    return 1;
  }
}
