import { logbookVitestConfig } from "@logbook/vitest-config";

/** One real PostgreSQL for the run; the built server and Debian's Chromium per file. */
export default logbookVitestConfig({ withDatabase: true, timeoutMs: 120_000 });
