import { logbookVitestConfig } from "@logbook/vitest-config";
import { mergeConfig } from "vitest/config";

// `pnpm test:corpus`: the *.corpus.test.ts files, over the external real corpus, with the
// same setups as vitest.config.ts (database, built binary).
export default mergeConfig(logbookVitestConfig({ withDatabase: true, timeoutMs: 120_000, corpus: true }), {
  test: { globalSetup: ["./test/build-binary.ts"] },
});
