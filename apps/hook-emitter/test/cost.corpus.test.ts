import { corpusTranscripts } from "@logbook/fixtures";
import { createLogbookClient } from "@logbook/sdk";
import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { emitterEnv, startE2E, e2e } from "./e2e-harness.js";
import { runBinary, tempDir } from "./helpers.js";

/**
 * Cost conformance over the external real corpus (`pnpm test:corpus`): every sample
 * transcript imported with the real `logbook-hook import` into the real server, each
 * session's cost (its tree: subagent files and inline sidechains are child sessions) read
 * back through the SDK and held against ccusage's.
 *
 * The reference numbers come from ccusage 18.0.11: `CLAUDE_CONFIG_DIR=<dir> npx -y
 * ccusage@18 session --json --offline`, run on 2026-12-01 with every corpus file in its own
 * `projects/<file name>/` folder and the 258c7280 subagent files under
 * `<session>/subagents/` (so one ccusage "session" is one transcript, plus a "subagents" row
 * added to its session here). `oneHourCacheWrites` are the 1-hour cache write tokens of the
 * same responses (`usage.cache_creation.ephemeral_1h_input_tokens`, each `message.id` +
 * `requestId` once, as ccusage counts), counted from the files.
 *
 * Tokens must be equal. Cost must be within 1% of ccusage's plus the one documented rule
 * where Logbook differs (docs/cost.md): ccusage prices 1-hour cache writes at the 5-minute
 * rate, Logbook at Anthropic's 1-hour rate, so the expected cost adds those tokens times
 * the difference (Anthropic's list: Opus 4.6 10 - 6.25, Sonnet 4.5 6 - 3.75 USD/M).
 */
const ONE_HOUR_PREMIUM_PER_MTOK: Record<string, number> = {
  "claude-opus-4-6": 10 - 6.25,
  "claude-sonnet-4-5-20250929": 6 - 3.75,
};

interface Reference {
  sessionId: string;
  ccusage: {
    inputTokens: number;
    outputTokens: number;
    cacheCreationTokens: number;
    cacheReadTokens: number;
    cost: number;
  };
  oneHourCacheWrites: Record<string, number>;
}

const REFERENCE: Reference[] = [
  {
    sessionId: "ba79134d-b6e9-4867-af0c-6941038c9e4b",
    ccusage: {
      inputTokens: 91,
      outputTokens: 1424,
      cacheCreationTokens: 16072,
      cacheReadTokens: 503769,
      cost: 0.2330337,
    },
    oneHourCacheWrites: {},
  },
  {
    sessionId: "d3ad4cdc-5657-435d-98fa-0035d53e383d",
    ccusage: {
      inputTokens: 114,
      outputTokens: 14281,
      cacheCreationTokens: 174552,
      cacheReadTokens: 3754072,
      cost: 1.9953486,
    },
    oneHourCacheWrites: {},
  },
  {
    sessionId: "fed8ce56-bc79-401f-a83e-af084253362f",
    ccusage: { inputTokens: 88, outputTokens: 6, cacheCreationTokens: 16000, cacheReadTokens: 44544, cost: 0.0737172 },
    oneHourCacheWrites: {},
  },
  {
    // One summary line, no usage: ccusage lists no session for it.
    sessionId: "ff71dbed-a4f2-4284-a4fc-fe2fb90de929",
    ccusage: { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0, cost: 0 },
    oneHourCacheWrites: {},
  },
  {
    // Inline sidechains (Claude Code 1.0.x): child sessions here, the same file for ccusage.
    sessionId: "fe5e1c67-53e7-4862-81ae-d0e013e3270b",
    ccusage: {
      inputTokens: 818,
      outputTokens: 49780,
      cacheCreationTokens: 137976,
      cacheReadTokens: 3647854,
      cost: 2.3609202,
    },
    oneHourCacheWrites: {},
  },
  {
    // The main file (9.832371) plus ccusage's "subagents" row for its two subagent files (0.26758545).
    sessionId: "258c7280-ae70-4798-800f-63464d01a85d",
    ccusage: {
      inputTokens: 198,
      outputTokens: 10467,
      cacheCreationTokens: 394137,
      cacheReadTokens: 14972534,
      cost: 10.09995645,
    },
    oneHourCacheWrites: { "claude-opus-4-6": 351961, "claude-sonnet-4-5-20250929": 42176 },
  },
  {
    sessionId: "55604662-cf2a-4331-851a-ec234028f8ca",
    ccusage: { inputTokens: 3, outputTokens: 13, cacheCreationTokens: 13835, cacheReadTokens: 11515, cost: 0.09256625 },
    oneHourCacheWrites: { "claude-opus-4-6": 13835 },
  },
  {
    sessionId: "491e126e-1e71-469c-ade2-fcc8af567c74",
    ccusage: {
      inputTokens: 1576,
      outputTokens: 534,
      cacheCreationTokens: 25842,
      cacheReadTokens: 427286,
      cost: 0.3963855,
    },
    oneHourCacheWrites: { "claude-opus-4-6": 25842 },
  },
];

startE2E();

describe("cost of the real corpus against ccusage", () => {
  it("each session's tokens equal ccusage's and its cost is within 1% (1-hour cache writes at their own rate)", async () => {
    const set = corpusTranscripts(tempDir("cost-corpus"));
    const imported = await runBinary(["import", set.root, "--json"], { env: emitterEnv(tempDir("cost-corpus-home")) });
    expect(imported.code, imported.stderr).toBe(0);
    const client = createLogbookClient({ url: e2e.server.url, apiKey: e2e.server.apiKey, retry: false });

    for (const ref of REFERENCE) {
      const session = await client.sessions.get.query({ externalId: ref.sessionId });
      const { totalTokens } = await client.sessions.tree.query({ id: session.id });
      expect(
        {
          inputTokens: totalTokens.inputTokens,
          outputTokens: totalTokens.outputTokens,
          cacheCreationTokens: totalTokens.cacheCreationTokens,
          cacheReadTokens: totalTokens.cacheReadTokens,
        },
        ref.sessionId,
      ).toEqual({
        inputTokens: ref.ccusage.inputTokens,
        outputTokens: ref.ccusage.outputTokens,
        cacheCreationTokens: ref.ccusage.cacheCreationTokens,
        cacheReadTokens: ref.ccusage.cacheReadTokens,
      });
      expect(totalTokens.unpricedMessages, ref.sessionId).toBe(0);
      const premium = Object.entries(ref.oneHourCacheWrites).reduce(
        (sum, [model, tokens]) => sum + (tokens * expectDefined(ONE_HOUR_PREMIUM_PER_MTOK[model])) / 1e6,
        0,
      );
      const expected = ref.ccusage.cost + premium;
      expect(
        Math.abs(totalTokens.costUsd - expected),
        `${ref.sessionId}: ${totalTokens.costUsd} vs ${expected}`,
      ).toBeLessThanOrEqual(expected * 0.01);
    }

    // The daily report says the same: every priced response, no 1970 day, nothing unpriced.
    const daily = await client.usage.report.query({ groupBy: "day" });
    const total = REFERENCE.reduce((sum, r) => sum + r.ccusage.cost, 0);
    expect(daily.rows.map((r) => r.key)).not.toContain("1970-01-01");
    expect(daily.totals.unpricedMessages).toBe(0);
    expect(daily.totals.costUsd).toBeGreaterThan(total);
  }, 600_000);
});
