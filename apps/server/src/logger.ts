import { pino, type Logger } from "pino";

import type { ServerConfig } from "./config.js";

export type { Logger } from "pino";

/**
 * Structured JSON logs on stdout. Secrets never reach a log line: the redaction below is
 * a second line of defence for the headers that carry keys; request logs name the path
 * only (a tRPC query string carries the input).
 */
export function createLogger(level: ServerConfig["logLevel"]): Logger {
  return pino({
    level,
    base: { service: "logbook-server" },
    redact: {
      paths: [
        "req.headers.authorization",
        "headers.authorization",
        "authorization",
        "apiKey",
        "secret",
        "*.secret",
        "*.apiKey",
      ],
      censor: "[redacted]",
    },
  });
}
