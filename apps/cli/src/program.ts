import { Command, Option } from "commander";

import { exportCommand } from "./commands/export.js";
import { openCommand } from "./commands/open.js";
import { searchCommand } from "./commands/search.js";
import { sessionsCommand } from "./commands/sessions.js";
import { showCommand } from "./commands/show.js";
import { tailCommand } from "./commands/tail.js";
import { usageCommand } from "./commands/usage.js";
import { webhooksCommand } from "./commands/webhooks.js";
import type { ContextFactory } from "./context.js";
import { VERSION } from "./version.js";

/** The table of commands; each lives in `commands/<name>.ts`. */
const COMMANDS = [
  sessionsCommand,
  showCommand,
  tailCommand,
  usageCommand,
  searchCommand,
  exportCommand,
  openCommand,
  webhooksCommand,
];

const EPILOG = `
Connection: --url, else LOGBOOK_URL, else "url" in $LOGBOOK_HOME/credentials (default ~/.logbook),
else http://127.0.0.1:4680. Key: --api-key, else LOGBOOK_API_KEY, else "apiKey" in that file.

Exit codes: 0 ok, 1 error, 2 usage (bad arguments or input the server refused),
3 not found (session, project, dashboard), 4 no server or key refused.`;

export function buildProgram(contexts: ContextFactory): Command {
  const program = new Command("logbook")
    .description("Look at the Claude Code sessions a Logbook server stores.")
    .version(VERSION, "-V, --version")
    .addOption(
      new Option("--url <url>", "the Logbook server (default: LOGBOOK_URL, credentials file, http://127.0.0.1:4680)"),
    )
    .addOption(
      new Option("--api-key <key>", "an API key with the read scope (default: LOGBOOK_API_KEY, credentials file)"),
    )
    .option("--json", "machine-readable output on stdout (one JSON document; tail: one per line)")
    .showHelpAfterError("(logbook --help lists the commands)")
    .addHelpText("after", EPILOG)
    .exitOverride();
  for (const make of COMMANDS) {
    const command = make(contexts);
    // Usage errors exit through main (exit code 2) instead of commander calling process.exit.
    command.exitOverride().showHelpAfterError(`(logbook ${command.name()} --help for its options)`);
    program.addCommand(command);
  }
  return program;
}
