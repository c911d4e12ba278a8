import { Command } from "commander";

import type { ContextFactory } from "../context.js";
import { EXIT } from "../exit-codes.js";

/**
 * `logbook open`: where the dashboard is. Logbook has no dashboard yet, so this says so and
 * prints the server's URL; it exits with 3 (not found) so a script does not take it for a
 * dashboard that opened. It needs no key and does not contact the server.
 */
export function openCommand(contexts: ContextFactory): Command {
  return new Command("open")
    .description("the dashboard's address (Logbook has no dashboard yet: prints the server URL, exits 3)")
    .action(async (_options: unknown, command: Command) => {
      const context = contexts.create(command);
      const url = context.url();
      if (context.out.json) {
        context.out.jsonResult({ url, dashboard: null, message: "Logbook has no dashboard yet" });
      } else {
        context.out.line(url);
        context.out.notice(
          `Logbook has no dashboard yet: nothing to open. The server (API) is at ${url}; use logbook sessions, show and tail.`,
        );
      }
      process.exitCode = EXIT.notFound;
    });
}
