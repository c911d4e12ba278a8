/**
 * `pnpm db:migrate` / `pnpm db:rollback [--all]`: schema changes against `DATABASE_URL`
 * (or the embedded PostgreSQL under `LOGBOOK_HOME` when it is unset).
 */
import { databaseEnvSchema, poolSettingsFromEnv } from "./config.js";
import { openDatabase } from "./connection.js";
import { migrateLatest, migrateRollback } from "./migrate.js";

async function main(): Promise<void> {
  const [command, ...flags] = process.argv.slice(2);
  if (command !== "migrate" && command !== "rollback") {
    console.error("usage: cli.ts migrate | rollback [--all]");
    process.exit(2);
  }
  const parsed = databaseEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) console.error(`${issue.path.join(".")}: ${issue.message}`);
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
    if (command === "migrate") {
      const applied = await migrateLatest(database.knex);
      console.log(applied.length ? `applied:\n  ${applied.join("\n  ")}` : "already up to date");
    } else {
      const undone = await migrateRollback(database.knex, { all: flags.includes("--all") });
      console.log(undone.length ? `rolled back:\n  ${undone.join("\n  ")}` : "nothing to roll back");
    }
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
