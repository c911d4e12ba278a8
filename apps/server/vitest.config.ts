import { logbookVitestConfig } from "@logbook/vitest-config";

// End-to-end tests run the built server (dist/main.js): build before testing.
export default logbookVitestConfig({ withDatabase: true, timeoutMs: 60_000 });
