import { corpusHooks } from "@logbook/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startHarness, type Harness } from "./harness.js";
import { checkEveryHookPayloadStored } from "./hook-payloads.js";

/** http.test.ts's payload check over the external real corpus (`pnpm test:corpus`). */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { BODY_LIMIT_BYTES: String(256 * 1024) } });
});
afterAll(() => h?.stop());

describe("POST /hooks/claude-code over the real corpus", () => {
  it("stores every corpus payload and answers 200 {} to each", async () => {
    const payloads = corpusHooks();
    expect(payloads.length).toBeGreaterThan(10);
    await checkEveryHookPayloadStored(h, payloads, "ci-box");
  }, 300_000);
});
