import type { PriceTable } from "@logbook/contracts";

/** Sonnet 4 and 4.5: the same rates, and the same long-context tier over 200,000 prompt tokens. */
const SONNET_4_RATES = {
  input: 3,
  output: 15,
  cacheWrite5m: 3.75,
  cacheWrite1h: 6,
  cacheRead: 0.3,
  longContext: {
    thresholdTokens: 200_000,
    input: 6,
    output: 22.5,
    cacheWrite5m: 7.5,
    cacheWrite1h: 12,
    cacheRead: 0.6,
  },
};

/**
 * The price table Logbook ships with: Anthropic's list prices in USD per million tokens
 * for the Claude 3.x and 4.x models Claude Code runs. Offline on purpose: a cost never
 * depends on reaching a price service, and the same table always gives the same cost.
 *
 * Change it when prices change: bump `version` and `date`, then run `usage.reprice` (see
 * packages/api/README.md) so stored messages take the new prices. A deployment can add or
 * replace models without a release through the file named by LOGBOOK_PRICES_FILE.
 *
 * Long-context rates: Sonnet 4 and 4.5 charge more for every token of a request whose
 * prompt (input + cache writes + cache reads) is over 200,000 tokens. Opus 4.6 and
 * Sonnet 4.6 had such a tier only while their 1M window was in beta; since it became
 * generally available (2026-03-13) their price is flat, so no tier is listed for them.
 */
export const BUILTIN_PRICE_TABLE: PriceTable = {
  version: "2026-12-01.1",
  date: "2026-12-01",
  source:
    "Anthropic model pricing, https://platform.claude.com/docs/en/about-claude/pricing " +
    "(model pricing, long context pricing, prompt caching), checked 2026-12-01",
  models: [
    { id: "claude-opus-4-7", input: 5, output: 25, cacheWrite5m: 6.25, cacheWrite1h: 10, cacheRead: 0.5 },
    { id: "claude-opus-4-6", input: 5, output: 25, cacheWrite5m: 6.25, cacheWrite1h: 10, cacheRead: 0.5 },
    { id: "claude-opus-4-5", input: 5, output: 25, cacheWrite5m: 6.25, cacheWrite1h: 10, cacheRead: 0.5 },
    { id: "claude-opus-4-1", input: 15, output: 75, cacheWrite5m: 18.75, cacheWrite1h: 30, cacheRead: 1.5 },
    {
      id: "claude-opus-4",
      aliases: ["claude-opus-4-0"],
      input: 15,
      output: 75,
      cacheWrite5m: 18.75,
      cacheWrite1h: 30,
      cacheRead: 1.5,
    },
    { id: "claude-3-opus", input: 15, output: 75, cacheWrite5m: 18.75, cacheWrite1h: 30, cacheRead: 1.5 },
    { id: "claude-sonnet-4-6", input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3 },
    { id: "claude-sonnet-4-5", ...SONNET_4_RATES },
    { id: "claude-sonnet-4", aliases: ["claude-sonnet-4-0"], ...SONNET_4_RATES },
    { id: "claude-3-7-sonnet", input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3 },
    { id: "claude-3-5-sonnet", input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3 },
    { id: "claude-haiku-4-5", input: 1, output: 5, cacheWrite5m: 1.25, cacheWrite1h: 2, cacheRead: 0.1 },
    { id: "claude-3-5-haiku", input: 0.8, output: 4, cacheWrite5m: 1, cacheWrite1h: 1.6, cacheRead: 0.08 },
    { id: "claude-3-haiku", input: 0.25, output: 1.25, cacheWrite5m: 0.3, cacheWrite1h: 0.5, cacheRead: 0.03 },
  ],
};
