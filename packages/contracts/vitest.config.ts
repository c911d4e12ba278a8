import { logbookVitestConfig } from "@logbook/vitest-config";

export default logbookVitestConfig();
