import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import type { Command } from "commander";

import { resolveConnection, resolveUrl, type CliEnvironment } from "./config.js";
import { createOutput, type Output } from "./output.js";

/** The options every command takes (`logbook --help` lists them). */
export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

/** What a command's action works with: where output goes and how to reach the server. */
export interface CommandContext {
  environment: CliEnvironment;
  out: Output;
  /** The server URL the command uses (for messages; no key needed to know it). */
  url(): string;
  /** An SDK client for the server, created on first use (fails without a key: exit 4). */
  client(): LogbookClient;
}

/**
 * Makes the context for each command action and remembers the URL the last one used, so
 * the error a command ends with can say which server it could not reach.
 */
export function contextFactory(environment: CliEnvironment) {
  let lastUrl: string | undefined;
  return {
    lastUrl: () => lastUrl,
    create(command: Command): CommandContext {
      const options = command.optsWithGlobals<GlobalOptions>();
      const out = createOutput(environment, options.json === true);
      let client: LogbookClient | undefined;
      return {
        environment,
        out,
        url() {
          lastUrl = resolveUrl(environment, options.url);
          return lastUrl;
        },
        client() {
          if (!client) {
            const connection = resolveConnection(environment, { url: options.url, apiKey: options.apiKey });
            lastUrl = connection.url;
            client = createLogbookClient({ url: connection.url, apiKey: connection.apiKey });
          }
          return client;
        },
      };
    },
  };
}
export type ContextFactory = ReturnType<typeof contextFactory>;
