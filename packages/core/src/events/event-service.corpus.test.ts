import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { corpusTranscripts, readJsonl } from "@logbook/fixtures";
import { describe, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { checkTranscriptTokens } from "./event-service.checks.js";

/** The same checks as event-service.test.ts, over the external real corpus (`pnpm test:corpus`). */
describe("EventService.ingest over the real corpus", () => {
  it("derives messages and counts each API response's usage once across a transcript import and a re-import", async () => {
    const { root, files } = corpusTranscripts(mkdtempSync(join(tmpdir(), "logbook-corpus-")));
    const short = expectDefined(files.find((f) => f.endsWith("/short.jsonl")));
    await checkTranscriptTokens(readJsonl(join(root, short)), "idle");
  });
});
