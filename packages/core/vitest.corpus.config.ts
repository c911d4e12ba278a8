import { logbookVitestConfig } from "@logbook/vitest-config";

// `pnpm test:corpus`: the *.corpus.test.ts files, over the external real corpus.
export default logbookVitestConfig({ withDatabase: true, corpus: true });
