import { logbookVitestConfig } from "@logbook/vitest-config";
import { mergeConfig } from "vitest/config";

// The database global setup serves the end-to-end tests (test/e2e.test.ts); the build setup
// bundles dist/logbook-hook.js once per run, since the tests run the real binary.
export default mergeConfig(logbookVitestConfig({ withDatabase: true, timeoutMs: 120_000 }), {
  test: { globalSetup: ["./test/build-binary.ts"] },
});
