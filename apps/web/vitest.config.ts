import { logbookVitestConfig } from "@logbook/vitest-config";

/** Unit tests of the dashboard's logic (no layout): plain Node, no database, no browser. */
export default logbookVitestConfig();
