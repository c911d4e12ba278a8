import { corpusTranscripts } from "@logbook/fixtures";

import { tempDir } from "../test/helpers.js";
import { describePlanImport } from "../test/plan-checks.js";

/** transcript.test.ts's planImport checks over the external real corpus (`pnpm test:corpus`). */
describePlanImport(corpusTranscripts(tempDir("corpus-transcripts")));
