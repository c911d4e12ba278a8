import type { Knex } from "knex";

import { ADVISORY_LOCKS, whileHolding } from "./advisory-locks.js";
import { defaultPoolSettings } from "./config.js";
import { createKnex } from "./connection.js";

import * as createProjectsAndSessions from "./migrations/20261122000100_create_projects_and_sessions.js";
import * as createEvents from "./migrations/20261122000200_create_events.js";
import * as createSessionRecords from "./migrations/20261122000300_create_session_records.js";
import * as createLocksAndJobs from "./migrations/20261122000400_create_locks_and_jobs.js";
import * as createApiKeys from "./migrations/20261122000500_create_api_keys.js";
import * as addManualParentIndex from "./migrations/20261122000600_add_manual_parent_index.js";
import * as dropRedundantEventTimeIndex from "./migrations/20261122000700_drop_redundant_event_time_index.js";
import * as addMessageCost from "./migrations/20261201000100_add_message_cost.js";
import * as addSessionStatusReason from "./migrations/20261201000200_add_session_status_reason.js";
import * as createWebSessions from "./migrations/20261201154042_create_web_sessions.js";
import * as addEventSearch from "./migrations/20261201154107_add_event_search.js";
import * as sessionKeysOnRecords from "./migrations/20261201155535_session_keys_on_records.js";
import * as createAgentSdkSessions from "./migrations/20261201164708_create_agent_sdk_sessions.js";
import * as addOtelIntake from "./migrations/20261201154524_add_otel_intake.js";
import * as partitionEventsByTime from "./migrations/20261201162404_partition_events_by_time.js";
import * as addRedactionCounts from "./migrations/20261201155823_add_redaction_counts.js";
import * as streamPositionHorizon from "./migrations/20261201185054_stream_position_horizon.js";
import * as createWebhooks from "./migrations/20261201191749_create_webhooks.js";
import * as createAuthFailures from "./migrations/20261201192241_create_auth_failures.js";
import * as addIngestGroupFunction from "./migrations/20261201185121_add_ingest_group_function.js";
import * as addSessionLabelIndex from "./migrations/20261201210530_add_session_label_index.js";
import * as ingestGroupCreatesSessions from "./migrations/20261201210703_ingest_group_creates_sessions.js";
import * as ingestGroupOneSessionUpdate from "./migrations/20261202030558_ingest_group_one_session_update.js";
import * as dropUnreadIngestIndexes from "./migrations/20261202030632_drop_unread_ingest_indexes.js";
import * as fasterEventSearchText from "./migrations/20261202094516_faster_event_search_text.js";
import * as searchEveryToolInput from "./migrations/20261203070000_search_every_tool_input.js";
import * as storeReplacedCharacters from "./migrations/20261204070000_store_replaced_characters.js";
import * as searchTitlesAndSummaries from "./migrations/20261204100000_search_titles_and_summaries.js";
import * as sessionCountsBigint from "./migrations/20261204110000_session_counts_bigint.js";
import * as newSessionProject from "./migrations/20261204230000_new_session_project.js";

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations are imported, not read from a folder at run time, so the bundled server
 * carries them inside its one file. Order is the name order, as Knex would sort them.
 */
const migrations: Record<string, Migration> = {
  "20261122000100_create_projects_and_sessions": createProjectsAndSessions,
  "20261122000200_create_events": createEvents,
  "20261122000300_create_session_records": createSessionRecords,
  "20261122000400_create_locks_and_jobs": createLocksAndJobs,
  "20261122000500_create_api_keys": createApiKeys,
  "20261122000600_add_manual_parent_index": addManualParentIndex,
  "20261122000700_drop_redundant_event_time_index": dropRedundantEventTimeIndex,
  "20261201000100_add_message_cost": addMessageCost,
  "20261201000200_add_session_status_reason": addSessionStatusReason,
  "20261201154042_create_web_sessions": createWebSessions,
  "20261201154107_add_event_search": addEventSearch,
  "20261201155535_session_keys_on_records": sessionKeysOnRecords,
  "20261201164708_create_agent_sdk_sessions": createAgentSdkSessions,
  "20261201154524_add_otel_intake": addOtelIntake,
  "20261201162404_partition_events_by_time": partitionEventsByTime,
  "20261201155823_add_redaction_counts": addRedactionCounts,
  "20261201185054_stream_position_horizon": streamPositionHorizon,
  "20261201191749_create_webhooks": createWebhooks,
  "20261201192241_create_auth_failures": createAuthFailures,
  "20261201185121_add_ingest_group_function": addIngestGroupFunction,
  "20261201210530_add_session_label_index": addSessionLabelIndex,
  "20261201210703_ingest_group_creates_sessions": ingestGroupCreatesSessions,
  "20261202030558_ingest_group_one_session_update": ingestGroupOneSessionUpdate,
  "20261202030632_drop_unread_ingest_indexes": dropUnreadIngestIndexes,
  "20261202094516_faster_event_search_text": fasterEventSearchText,
  "20261203070000_search_every_tool_input": searchEveryToolInput,
  "20261204070000_store_replaced_characters": storeReplacedCharacters,
  "20261204100000_search_titles_and_summaries": searchTitlesAndSummaries,
  "20261204110000_session_counts_bigint": sessionCountsBigint,
  "20261204230000_new_session_project": newSessionProject,
};

class BundledMigrationSource implements Knex.MigrationSource<string> {
  getMigrations(): Promise<string[]> {
    return Promise.resolve(Object.keys(migrations).sort());
  }
  getMigrationName(name: string): string {
    return name;
  }
  getMigration(name: string): Promise<Migration> {
    const migration = migrations[name];
    if (!migration) throw new Error(`Unknown migration ${name}`);
    return Promise.resolve(migration);
  }
}

const migratorConfig: Knex.MigratorConfig = {
  migrationSource: new BundledMigrationSource(),
  tableName: "knex_migrations",
};

/** Applies every pending migration; returns the names applied (empty when current). */
export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest(migratorConfig)) as [number, string[]];
  return applied;
}

/**
 * Migrations on a connection of their own, closed after: the request pool's limits (a pool of
 * a few connections, a short acquire wait, a statement timeout sized for requests) are tuned
 * for requests, and a start under load, or a long schema change, must not trip over them.
 * Replicas starting together take turns (an advisory lock, waited for): Knex's own lock
 * table would make all but the first fail with "Migration table is already locked", and
 * the first creation of that table races too. The later ones then find nothing to do.
 */
export async function migrateLatestAt(connectionString: string): Promise<string[]> {
  const knex = createKnex(connectionString, {
    ...defaultPoolSettings,
    min: 0,
    max: 2,
    acquireTimeoutMs: 120_000,
    statementTimeoutMs: 0, // none: a schema change takes as long as it takes
  });
  try {
    return await whileHolding(connectionString, ADVISORY_LOCKS.migrations, () => migrateLatest(knex));
  } finally {
    await knex.destroy();
  }
}

/** Applies (`up`) or undoes (`down`) the one migration `name`; returns the names it ran. */
export async function migrateOne(knex: Knex, direction: "up" | "down", name: string): Promise<string[]> {
  const config = { ...migratorConfig, name };
  const [, names] = (await (direction === "up" ? knex.migrate.up(config) : knex.migrate.down(config))) as [
    number,
    string[],
  ];
  return names;
}

/** Rolls back the last batch, or every migration with `all`; returns the names undone. */
export async function migrateRollback(knex: Knex, options: { all?: boolean } = {}): Promise<string[]> {
  const [, undone] = (await knex.migrate.rollback(migratorConfig, options.all ?? false)) as [number, string[]];
  return undone;
}

export interface MigrationStatus {
  current: boolean;
  applied: string[];
  pending: string[];
}

/** What /health reports: are all known migrations applied? */
export async function migrationStatus(knex: Knex): Promise<MigrationStatus> {
  const [completed, pending] = (await knex.migrate.list(migratorConfig)) as [Array<{ name: string }>, string[]];
  return {
    current: pending.length === 0,
    applied: completed.map((m) => m.name),
    pending: pending.map(String),
  };
}

/**
 * Applies pending migrations (or rolls back, with `rollback`) and says what it did: the
 * one implementation behind both `pnpm db:migrate`/`db:rollback` and `logbook-server migrate`.
 */
export async function runMigrationCommand(
  knex: Knex,
  command: { rollback?: false } | { rollback: true; all: boolean },
): Promise<string> {
  if (command.rollback) {
    const undone = await migrateRollback(knex, { all: command.all });
    return undone.length ? `rolled back:\n  ${undone.join("\n  ")}` : "nothing to roll back";
  }
  const applied = await migrateLatest(knex);
  return applied.length ? `applied:\n  ${applied.join("\n  ")}` : "already up to date";
}
