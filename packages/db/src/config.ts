import { homedir } from "node:os";
import { join } from "node:path";

import { z } from "zod";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const postgresUrl = z
  .string()
  .trim()
  .min(1)
  .refine((url) => /^postgres(ql)?:\/\//.test(url), "must be a postgres:// or postgresql:// URL");

/**
 * The database part of the environment. The server extends this schema; `db:migrate`
 * uses it alone. Defaults follow the seeds: 20 connections, 30 s to acquire one,
 * idle connections closed after 30 s and recycled after an hour.
 */
export const databaseEnvSchema = z.object({
  DATABASE_URL: postgresUrl.optional(),
  /**
   * A streaming replica of DATABASE_URL's database: list, timeline, search and usage reads
   * go there (docs/scaling.md says which). Unset: every query goes to DATABASE_URL.
   */
  DATABASE_READ_URL: postgresUrl.optional(),
  LOGBOOK_HOME: z.string().trim().min(1).default(join(homedir(), ".logbook")),
  DATABASE_POOL_MIN: z.coerce.number().int().min(0).default(0),
  DATABASE_POOL_MAX: positiveInt(20),
  DATABASE_ACQUIRE_TIMEOUT_MS: positiveInt(30_000),
  DATABASE_IDLE_TIMEOUT_MS: positiveInt(30_000),
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt(60_000),
});

export type DatabaseEnv = z.infer<typeof databaseEnvSchema>;

export interface PoolSettings {
  min: number;
  max: number;
  acquireTimeoutMs: number;
  idleTimeoutMs: number;
  /** Server-side limit per statement, so a runaway query cannot hold a connection forever. */
  statementTimeoutMs: number;
}

export function poolSettingsFromEnv(env: DatabaseEnv): PoolSettings {
  return {
    min: env.DATABASE_POOL_MIN,
    max: env.DATABASE_POOL_MAX,
    acquireTimeoutMs: env.DATABASE_ACQUIRE_TIMEOUT_MS,
    idleTimeoutMs: env.DATABASE_IDLE_TIMEOUT_MS,
    statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
  };
}

export const defaultPoolSettings: PoolSettings = poolSettingsFromEnv(databaseEnvSchema.parse({}));
