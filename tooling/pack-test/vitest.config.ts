import { logbookVitestConfig } from "@logbook/vitest-config";

// One file, minutes long on a busy machine: packing, an npm install, tsc, a server start.
export default logbookVitestConfig({ timeoutMs: 600_000 });
