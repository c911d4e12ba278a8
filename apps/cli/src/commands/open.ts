import { Command } from "commander";
import open from "open";

import type { ContextFactory } from "../context.js";

/**
 * `logbook open`: signs a browser in to the dashboard. Asks the server for a single-use login
 * link (valid two minutes, with this key's scopes), prints it on stdout, and opens it in the
 * default browser (the `open` package: xdg-open, `open`, `start`) when there is a display;
 * without one (SSH, containers) it only prints, to be opened elsewhere.
 */
export function openCommand(contexts: ContextFactory): Command {
  return new Command("open")
    .description("sign a browser in to the dashboard: prints a one-time login link and opens it")
    .option("--no-browser", "only print the link (it works once, for two minutes)")
    .action(async (options: { browser: boolean }, command: Command) => {
      const context = contexts.create(command);
      const link = await context.client().auth.createLoginLink.mutate();
      const opened = options.browser && context.environment.canOpenBrowser && (await openInBrowser(link.url));
      if (context.out.json) {
        context.out.jsonResult({ url: link.url, expiresAt: link.expiresAt, opened });
        return;
      }
      context.out.line(link.url);
      context.out.notice(
        opened
          ? "opened the dashboard in your browser (the link works once, for two minutes)"
          : `${options.browser && !context.environment.canOpenBrowser ? "no display to open a browser on: " : ""}open this link in a browser within two minutes (it works once)`,
      );
    });
}

/** True when the opener started; a missing opener (no xdg-open) is not an error: the link is printed. */
async function openInBrowser(url: string): Promise<boolean> {
  try {
    const child = await open(url, { wait: false });
    return await new Promise<boolean>((resolve) => {
      child.once("error", () => resolve(false));
      child.once("spawn", () => {
        child.unref();
        resolve(true);
      });
    });
  } catch {
    return false;
  }
}
