import { defineConfig } from "vitest/config";

/**
 * Shared Vitest settings. Tests sit beside the code (`src/**\/*.test.ts`).
 * `withDatabase` adds the global setup that starts one real PostgreSQL for the run
 * (embedded, or `DATABASE_URL`) and migrates a template database that each test file clones.
 * Plain JavaScript: Vitest loads its config through Node, which does not run TypeScript.
 *
 * @param {{ withDatabase?: boolean; timeoutMs?: number }} [options]
 */
export function logbookVitestConfig(options = {}) {
  return defineConfig({
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      environment: "node",
      testTimeout: options.timeoutMs ?? 30_000,
      hookTimeout: 120_000,
      globalSetup: options.withDatabase ? ["@logbook/db/testing/global-setup"] : [],
      // Two workers for two cores; each database-backed file gets its own cloned database.
      pool: "forks",
      maxWorkers: 2,
    },
  });
}
