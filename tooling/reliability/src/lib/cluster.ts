import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  createKnex,
  ensureDatabase,
  findFreePort,
  migrateLatest,
  startEmbeddedPostgres,
  TABLES,
  type EmbeddedPostgresHandle,
  type Knex,
  type TableName,
} from "@logbook/db";

/**
 * A PostgreSQL the suite owns: embedded, in a temporary directory, on a fixed port, so
 * it can be stopped and started again (same data directory, same port) to play a
 * database restart under a running server. One migrated database `logbook_rel` in it.
 */
export interface Cluster {
  /** Connection string of the migrated database. */
  url: string;
  /** A small pool for the suite's own checks (row counts, locks); survives restarts. */
  knex: Knex;
  port: number;
  dir: string;
  /** Stops PostgreSQL (fast shutdown: open connections are cut). */
  stopPostgres(): Promise<void>;
  /** Starts it again on the same directory and port. */
  startPostgres(): Promise<void>;
  /** Stop, wait `downMs`, start. */
  restartPostgres(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCluster(options: { name?: string } = {}): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), `logbook-rel-${options.name ?? "pg"}-`));
  const dataDir = join(dir, "pg");
  const port = await findFreePort();
  let handle: EmbeddedPostgresHandle | null = await startEmbeddedPostgres({ dataDir, port });
  const adminUrl = handle.connectionString;
  await ensureDatabase(adminUrl, "logbook_rel");
  const parsed = new URL(adminUrl);
  parsed.pathname = "/logbook_rel";
  const url = parsed.toString();
  const knex = createKnex(url, {
    min: 0,
    max: 4,
    acquireTimeoutMs: 10_000,
    idleTimeoutMs: 1_000,
    statementTimeoutMs: 120_000,
  });
  await migrateLatest(knex);

  const stopPostgres = async () => {
    const current = handle;
    handle = null;
    await current?.stop();
  };
  const startPostgres = async () => {
    if (handle) return;
    handle = await startEmbeddedPostgres({ dataDir, port });
  };
  return {
    url,
    knex,
    port,
    dir,
    stopPostgres,
    startPostgres,
    async restartPostgres(downMs = 1_000) {
      await stopPostgres();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await startPostgres();
    },
    async close() {
      await knex.destroy().catch(() => undefined);
      await stopPostgres().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type RowCounts = Record<TableName, number>;

/** Exact row counts of every table (not estimates). */
export async function rowCounts(knex: Knex): Promise<RowCounts> {
  const sql = TABLES.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t}`).join(" UNION ALL ");
  const result = await knex.raw<{ rows: Array<{ t: string; n: number }> }>(sql);
  const counts = {} as RowCounts;
  for (const row of result.rows) counts[row.t as keyof RowCounts] = row.n;
  return counts;
}

/** Tables whose counts differ, as `table: before → after`. */
export function countDiff(before: RowCounts, after: RowCounts): string[] {
  return TABLES.filter((t) => before[t] !== after[t]).map((t) => `${t}: ${before[t]} → ${after[t]}`);
}

/** `api_keys` also holds `last_used_at`, which verifying a key updates: compare the rest. */
export async function tableFingerprint(knex: Knex): Promise<string> {
  const parts: string[] = [];
  for (const t of TABLES) {
    const exclude = t === "api_keys" ? "- 'last_used_at'" : "";
    const result = await knex.raw<{ rows: Array<{ h: string | null }> }>(
      `SELECT md5(string_agg(md5((to_jsonb(x) ${exclude})::text), ',' ORDER BY md5((to_jsonb(x) ${exclude})::text))) AS h FROM ${t} x`,
    );
    parts.push(`${t}:${result.rows[0]?.h ?? "empty"}`);
  }
  return parts.join(";");
}
