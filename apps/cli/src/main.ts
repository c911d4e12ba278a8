import { CommanderError } from "commander";

import { readEnvironment } from "./config.js";
import { contextFactory } from "./context.js";
import { describeFailure, EXIT } from "./exit-codes.js";
import { buildProgram } from "./program.js";

/**
 * `logbook`: parses the command line, runs one command, and turns whatever it throws into
 * a one-line message on stderr and a documented exit code (README, `logbook --help`).
 */
async function main(argv: string[]): Promise<number> {
  const environment = readEnvironment();
  const contexts = contextFactory(environment);
  const program = buildProgram(contexts);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end in a CommanderError too, with exit code 0; commander printed them.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const failure = describeFailure(error, contexts.lastUrl());
    process.stderr.write(`logbook: ${failure.message}\n`);
    return failure.exitCode;
  }
}

// `logbook … | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(EXIT.ok);
  throw error;
});

process.exitCode = await main(process.argv);
