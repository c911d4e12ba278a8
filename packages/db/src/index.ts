export { ADVISORY_LOCKS, tryExclusive, whileHolding } from "./advisory-locks.js";
export type { AdvisoryLock, Exclusive } from "./advisory-locks.js";
export { databaseEnvSchema, defaultPoolSettings, poolSettingsFromEnv } from "./config.js";
export type { DatabaseEnv, PoolSettings } from "./config.js";
export { createKnex, ensureDatabase, openDatabase, probeDatabase, redactUrl } from "./connection.js";
export type { Database, OpenDatabaseOptions } from "./connection.js";
export { APP_ROLE, findFreePort, startEmbeddedPostgres } from "./embedded.js";
export { isProcessAlive } from "./process-alive.js";
export { runPrepared, type PreparedStatement } from "./prepared.js";
export { DEFAULT_REINDEX_PAGES_PER_BATCH, reindexEventSearch } from "./search-reindex.js";
export type {
  ReindexedPartition,
  ReindexProgress,
  ReindexSearchOptions,
  ReindexSearchResult,
} from "./search-reindex.js";
export { SESSION_COLOCATED_TABLES, TABLES, type TableName } from "./tables.js";
export type { EmbeddedPostgresHandle, EmbeddedPostgresOptions } from "./embedded.js";
export {
  migrateLatest,
  migrateLatestAt,
  migrateOne,
  migrateRollback,
  migrationStatus,
  runMigrationCommand,
} from "./migrate.js";
export type { MigrationStatus } from "./migrate.js";
export * from "./models/index.js";
export type { Knex } from "knex";
export { transaction } from "objection";
