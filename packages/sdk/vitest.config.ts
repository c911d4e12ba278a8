import { logbookVitestConfig } from "@logbook/vitest-config";

// Unit tests only; the SDK's end-to-end tests run against the real server in apps/server.
export default logbookVitestConfig();
