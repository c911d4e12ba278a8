import { logbookVitestConfig } from "@logbook/vitest-config";

// Each suite file starts its own embedded PostgreSQL (the fault test restarts it), so no
// shared database setup; the scenarios take tens of seconds each.
export default logbookVitestConfig({ timeoutMs: 240_000 });
