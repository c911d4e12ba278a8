import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import pg from "pg";
import type { TestProject } from "vitest/node";

import { createKnex, ensureDatabase } from "../connection.js";
import { startEmbeddedPostgres } from "../embedded.js";
import { migrateLatest } from "../migrate.js";
import "./provided-context.js";
import { databaseUrlFor } from "./urls.js";

/**
 * Vitest global setup: one PostgreSQL for the whole run (the embedded one in a temp
 * directory, or the server behind `DATABASE_URL`), and one migrated template database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let adminUrl: string;
  if (fromEnv) {
    adminUrl = fromEnv;
  } else {
    const dir = await mkdtemp(join(tmpdir(), "logbook-test-pg-"));
    const embedded = await startEmbeddedPostgres({ dataDir: join(dir, "pg") });
    adminUrl = embedded.connectionString;
    stopEmbedded = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }

  const template = `logbook_template_${process.pid}_${Date.now().toString(36)}`;
  await ensureDatabase(adminUrl, template);
  const knex = createKnex(databaseUrlFor(adminUrl, template));
  try {
    await migrateLatest(knex);
  } finally {
    await knex.destroy();
  }

  project.provide("logbookAdminDatabaseUrl", adminUrl);
  project.provide("logbookTemplateDatabase", template);

  return async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(template)} WITH (FORCE)`);
    } finally {
      await client.end();
    }
    await stopEmbedded?.();
  };
}
