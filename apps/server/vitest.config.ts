import { logbookVitestConfig } from "@logbook/vitest-config";

// End-to-end tests run the built server (dist/main.js): build before testing.
// Several tests start or restart a server inside the test (a second replica, a restart that
// keeps the data): the start alone may take up to the harness's 110 s on a loaded machine
// (`startTimeoutMs`), so a test's budget covers that and the work after it.
export default logbookVitestConfig({ withDatabase: true, timeoutMs: 180_000 });
