import { corpusHooks, corpusTranscripts } from "@logbook/fixtures";
import { describe, it } from "vitest";

import { checkHooksBackground, checkHooksDirect, checkTranscriptImport } from "./e2e-checks.js";
import { startE2E } from "./e2e-harness.js";
import { tempDir } from "./helpers.js";

/**
 * e2e.test.ts's data checks over the external real corpus (`pnpm test:corpus`). They check
 * that every payload is stored whole, so the server runs without redaction: with it (the
 * default) real payloads do change by design, e.g. `LINEAR_API_KEY=…` in a `.env.sample`
 * being written. Redaction has its own end-to-end test through this binary (redaction.test.ts).
 */
startE2E({ LOGBOOK_REDACTION: "off" });

describe("the real corpus through the real binary into the real server", () => {
  it("every corpus payload is stored whole, in the right session; subagent events in child sessions", async () => {
    await checkHooksDirect(corpusHooks());
  }, 900_000);

  it("background delivery: every corpus payload stored once and whole, in capture order; the deliverer then exits", async () => {
    await checkHooksBackground(corpusHooks());
  }, 900_000);

  it("every corpus transcript imported twice: counts equal the independent count, the second run all duplicates", async () => {
    await checkTranscriptImport(corpusTranscripts(tempDir("e2e-corpus")));
  }, 600_000);
});
