import { logbookVitestConfig } from "@logbook/vitest-config";

// `pnpm test:corpus`: the *.corpus.test.ts files, over the external real corpus (built server).
export default logbookVitestConfig({ withDatabase: true, timeoutMs: 60_000, corpus: true });
