/**
 * @logbook/contracts: the Zod schemas every API input and output, hook payload and
 * transcript line is parsed with, and the types inferred from them. Depends on zod only.
 */
export * from "./common.js";
export * from "./enums.js";
export * from "./sessions.js";
export * from "./events.js";
export * from "./search.js";
export * from "./exports.js";
export * from "./hooks.js";
export * from "./transcripts.js";
export * from "./records.js";
export * from "./projects.js";
export * from "./jobs.js";
export * from "./stats.js";
export * from "./usage.js";
export * from "./retention.js";
export * from "./api-keys.js";
export * from "./health.js";
export * from "./issues.js";
export * from "./redaction.js";
export * from "./otel.js";
export * from "./session-store.js";
export * from "./webhooks.js";
export * from "./json-text.js";
