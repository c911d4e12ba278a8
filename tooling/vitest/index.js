import { configDefaults, defineConfig } from "vitest/config";

/** Tests over the external real corpus: run by `pnpm test:corpus`, never by `pnpm test`. */
const CORPUS_TESTS = ["src/**/*.corpus.test.ts", "test/**/*.corpus.test.ts"];

/**
 * Shared Vitest settings. Tests sit beside the code (`src/**\/*.test.ts`).
 * `withDatabase` adds the global setup that starts one real PostgreSQL for the run
 * (embedded, or `DATABASE_URL`) and migrates a template database that each test file clones.
 * `corpus` selects the `*.corpus.test.ts` files instead (they read the external corpus, see
 * @logbook/fixtures); without it they are left out, so `pnpm test` needs only the repository.
 * Plain JavaScript: Vitest loads its config through Node, which does not run TypeScript.
 *
 * @param {{ withDatabase?: boolean; timeoutMs?: number; corpus?: boolean }} [options]
 */
export function logbookVitestConfig(options = {}) {
  return defineConfig({
    test: {
      include: options.corpus ? CORPUS_TESTS : ["src/**/*.test.ts", "test/**/*.test.ts"],
      exclude: options.corpus ? configDefaults.exclude : [...configDefaults.exclude, ...CORPUS_TESTS],
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
