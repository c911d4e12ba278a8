import { corpusHooks } from "@logbook/fixtures";
import { describe, it } from "vitest";

import { checkConcurrentSinglePosts, checkStoresEveryPayload } from "./hook-service.checks.js";

/** The same checks as hook-service.test.ts, over the external real corpus (`pnpm test:corpus`). */
describe("HookService over the real corpus", () => {
  const payloads = corpusHooks();

  it("stores every corpus payload whole and derives sessions and child sessions", async () => {
    await checkStoresEveryPayload(payloads);
  });

  it("takes every corpus payload as concurrent single posts (group commit) without a lost or refused event", async () => {
    await checkConcurrentSinglePosts(payloads);
  });
});
