import { parseArgs } from "node:util";

import { describeError } from "@logbook/api";
import {
  apiKeyScope,
  createApiKeyInput,
  issueLine,
  revokeApiKeyInput,
  toInputIssues,
  type ApiKey,
} from "@logbook/contracts";
import { createServices } from "@logbook/core";
import { DEFAULT_REINDEX_PAGES_PER_BATCH, migrateLatest, reindexEventSearch, runMigrationCommand } from "@logbook/db";

import type { ServerConfig } from "./config.js";
import { openCommandDatabase } from "./database.js";

export const USAGE = `usage: logbook-server [command]

commands:
  serve [--stop-with-parents]           start the server (the default); with the flag it also
                                        stops when the process that started it ends (pnpm start)
  migrate                               apply pending database migrations and exit
  reindex-search [--all]                bring stored events' search index up to date after an
         [--pages-per-batch N]          upgrade that changed what search reads (safe while the
                                        server runs; a second run finds nothing to do)
  keys create --name NAME --scopes S    create an API key; prints its secret once
         [--expires-at DATE-TIME]       (scopes: comma-separated ingest,read,admin;
         [--json]                       expiry with an offset: 2027-01-31T00:00:00Z)
  keys list [--json]                    list keys (never their secrets)
  keys revoke ID                        revoke a key for good
  help                                  show this text
  version                               print the version

configuration comes from the environment; see apps/server/README.md.`;

/** A command's failure with the exit code it calls for (2: usage or input; 1: it did not work). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

const print = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`${line}\n`);

async function withServices<T>(
  config: ServerConfig,
  run: (services: ReturnType<typeof createServices>) => Promise<T>,
): Promise<T> {
  const database = await openCommandDatabase(config, note);
  try {
    await migrateLatest(database.knex);
    return await run(createServices({ knex: database.knex }));
  } catch (error) {
    if (error instanceof CommandError) throw error;
    const described = describeError(error);
    throw new CommandError(
      described.internal ? `failed: ${error instanceof Error ? error.message : String(error)}` : described.message,
      described.code === "BAD_REQUEST" ? 2 : 1,
    );
  } finally {
    await database.close();
  }
}

export async function migrateCommand(config: ServerConfig): Promise<void> {
  const database = await openCommandDatabase(config, note);
  try {
    note(`database: ${database.displayUrl}`);
    print(await runMigrationCommand(database.knex, {}));
  } finally {
    await database.close();
  }
}

const REINDEX_PROGRESS_EVERY_MS = 10_000;

/** `reindex-search [--all] [--pages-per-batch N]`: rewrites the rows whose search vector is stale. */
export async function reindexSearchCommand(config: ServerConfig, args: string[]): Promise<void> {
  const { values } = (() => {
    try {
      return parseArgs({
        args,
        options: {
          all: { type: "boolean", default: false },
          "pages-per-batch": { type: "string", default: String(DEFAULT_REINDEX_PAGES_PER_BATCH) },
        },
      });
    } catch (error) {
      throw new CommandError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`, 2);
    }
  })();
  if (!/^[1-9][0-9]{0,6}$/.test(values["pages-per-batch"])) {
    throw new CommandError(
      `--pages-per-batch must be a whole number from 1 to 9999999, not ${JSON.stringify(values["pages-per-batch"])}`,
      2,
    );
  }
  const pagesPerBatch = Number(values["pages-per-batch"]);
  const database = await openCommandDatabase(config, note);
  try {
    note(`database: ${database.displayUrl}`);
    // The functions the index is computed with come from the migrations: current ones first.
    await migrateLatest(database.knex);
    const started = Date.now();
    // A partition of millions of rows takes minutes: a line every so often says it is moving.
    let lastProgressAt = started;
    const result = await reindexEventSearch(database.knex, {
      all: values.all,
      pagesPerBatch,
      onBatch: (progress) => {
        if (Date.now() - lastProgressAt < REINDEX_PROGRESS_EVERY_MS) return;
        lastProgressAt = Date.now();
        note(
          `${progress.partition}: ${progress.pages} of ${progress.pagesTotal} pages read, ${progress.rowsRewritten} rows rewritten so far`,
        );
      },
      onPartition: (done) => note(`${done.partition}: ${done.pages} pages read, ${done.rowsRewritten} rows rewritten`),
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    print(
      `search index up to date: ${result.rowsRewritten} rows rewritten, ${result.partitions} partitions (${result.pages} pages) read in ${seconds} s`,
    );
  } finally {
    await database.close();
  }
}

function keyLine(key: ApiKey): string {
  const state = key.revokedAt ? `revoked ${key.revokedAt}` : key.expiresAt ? `expires ${key.expiresAt}` : "active";
  return `${key.id}  ${key.prefix}…  ${key.name}  [${key.scopes.join(",")}]  ${state}  last used ${key.lastUsedAt ?? "never"}`;
}

export async function keysCommand(config: ServerConfig, args: string[]): Promise<void> {
  const [action, ...rest] = args;
  if (action === "--help" || action === "-h" || action === "help" || rest.includes("--help") || rest.includes("-h")) {
    print(USAGE);
    return;
  }
  const { values, positionals } = (() => {
    try {
      return parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          name: { type: "string" },
          scopes: { type: "string" },
          "expires-at": { type: "string" },
          json: { type: "boolean", default: false },
        },
      });
    } catch (error) {
      throw new CommandError(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`, 2);
    }
  })();

  switch (action) {
    case "create": {
      const scopes = (values.scopes ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const parsed = createApiKeyInput.safeParse({
        name: values.name ?? "",
        scopes,
        ...(values["expires-at"] ? { expiresAt: values["expires-at"] } : {}),
      });
      if (!parsed.success) {
        const flag = (path: string) => `--${(path.split(".")[0] || "input").replace("expiresAt", "expires-at")}`;
        const problems = toInputIssues(parsed.error, flag).map(issueLine);
        const aboutScopes = parsed.error.issues.some((issue) => issue.path[0] === "scopes");
        const hint = aboutScopes ? `\n(valid scopes: ${apiKeyScope.options.join(", ")})` : "";
        throw new CommandError(`${problems.join("\n")}${hint}`, 2);
      }
      const created = await withServices(config, (services) => services.apiKeys.create(parsed.data));
      if (values.json) {
        print(JSON.stringify(created));
      } else {
        note(`created API key '${created.key.name}' (${created.key.id}) with scopes ${created.key.scopes.join(",")}`);
        note("its secret, shown only this once:");
        print(created.secret);
      }
      return;
    }
    case "list": {
      const keys = await withServices(config, (services) => services.apiKeys.list());
      if (values.json) print(JSON.stringify(keys));
      else if (keys.length === 0) note("no API keys");
      else for (const key of keys) print(keyLine(key));
      return;
    }
    case "revoke": {
      const parsed = revokeApiKeyInput.safeParse({ id: positionals[0] ?? "" });
      if (!parsed.success)
        throw new CommandError("usage: logbook-server keys revoke ID (the key's id, a UUID, from `keys list`)", 2);
      const key = await withServices(config, (services) => services.apiKeys.revoke(parsed.data));
      if (values.json) print(JSON.stringify(key));
      else print(`revoked ${key.id} (${key.name}); running servers refuse it at once`);
      return;
    }
    default:
      throw new CommandError(`unknown keys command ${JSON.stringify(action ?? "")}\n\n${USAGE}`, 2);
  }
}
