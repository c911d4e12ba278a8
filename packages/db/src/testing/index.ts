import { randomBytes } from "node:crypto";

import type { Knex } from "knex";
import pg from "pg";
import { inject } from "vitest";

import { createKnex } from "../connection.js";
import "./provided-context.js";
import { databaseUrlFor } from "./urls.js";

export { databaseUrlFor } from "./urls.js";
export { startStandby, type Standby } from "./standby.js";
export { storedText, tablesContaining } from "./stored-text.js";

export interface TestDatabase {
  name: string;
  /** Connection string of this database (hand it to a server process under test). */
  url: string;
  knex: Knex;
  /** Closes the pool and drops the database. */
  destroy(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject("logbookAdminDatabaseUrl") });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A private, migrated database for one test file, cloned from the run's template
 * (`CREATE DATABASE … TEMPLATE`, far faster than migrating again). Real PostgreSQL.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `logbook_test_${randomBytes(6).toString("hex")}`;
  const template = options.migrated === false ? "template1" : inject("logbookTemplateDatabase");
  await adminQuery(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
  const url = databaseUrlFor(inject("logbookAdminDatabaseUrl"), name);
  const knex = createKnex(url);
  return {
    name,
    url,
    knex,
    async destroy() {
      await knex.destroy();
      await adminQuery(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
}
