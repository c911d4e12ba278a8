/**
 * `pnpm db:migrate` / `pnpm db:rollback [--all]`: schema changes against `DATABASE_URL`
 * (or the embedded PostgreSQL under `LOGBOOK_HOME` when it is unset).
 */
import { issueLine, toInputIssues } from "@logbook/contracts";

import { databaseEnvSchema, poolSettingsFromEnv } from "./config.js";
import { openDatabase } from "./connection.js";
import { runMigrationCommand } from "./migrate.js";

async function main(): Promise<void> {
  const [command, ...flags] = process.argv.slice(2);
  if (command !== "migrate" && command !== "rollback") {
    console.error("usage: cli.ts migrate | rollback [--all]");
    process.exit(2);
  }
  const parsed = databaseEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of toInputIssues(parsed.error, (path) => path || "environment")) console.error(issueLine(issue));
    process.exit(2);
  }
  const env = parsed.data;
  const database = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    home: env.LOGBOOK_HOME,
    pool: poolSettingsFromEnv(env),
  });
  try {
    console.log(`database: ${database.displayUrl}`);
    console.log(
      await runMigrationCommand(
        database.knex,
        command === "migrate" ? {} : { rollback: true, all: flags.includes("--all") },
      ),
    );
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
