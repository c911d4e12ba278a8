import { logbookVitestConfig } from "@logbook/vitest-config";
import { mergeConfig } from "vitest/config";

// The end-to-end tests run the built `dist/logbook.js` against the built server on a real
// database: the global setup bundles the CLI once per run.
export default mergeConfig(logbookVitestConfig({ withDatabase: true, timeoutMs: 120_000 }), {
  test: { globalSetup: ["./test/build-binary.ts"] },
});
