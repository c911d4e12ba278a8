import { loadConfig } from "./config.js";
import { logLine } from "./log.js";
import { record } from "./record.js";

/**
 * Entry point of the bundled `logbook-hook` binary. No arguments: record one hook event
 * (the hot path: nothing but Node built-ins is evaluated). A command: the command table
 * (`cli.ts`) is loaded on demand; the bundle builds it into a file of its own
 * (`logbook-hook-commands.cjs`, see `tsup.config.ts`).
 */

/** Recording must end with exit code 0 whatever happens; every failure goes to the log. */
async function recordSafely(): Promise<never> {
  const bail = (error: unknown): never => {
    try {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      logLine(loadConfig().logFile, "error", `unexpected failure: ${detail}`);
    } finally {
      process.exit(0);
    }
  };
  process.on("uncaughtException", bail);
  process.on("unhandledRejection", bail);
  try {
    await record();
  } catch (error) {
    bail(error);
  }
  process.exit(0);
}

async function runCommand(command: string, args: string[]): Promise<never> {
  const { runCli } = await import("./cli.js");
  const code = await runCli(command, args);
  process.exit(code);
}

const [command, ...args] = process.argv.slice(2);
if (command === undefined || command === "record") void recordSafely();
else void runCommand(command, args);
