import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { priceTable } from "@logbook/contracts";
import { describe, expect, it } from "vitest";

import { BUILTIN_PRICE_TABLE } from "./price-table.js";
import { formatCost, normalizeModelId, PriceBook, Pricing, readPriceTableFile, usdToUnits } from "./pricing.js";

const usage = (over: Partial<Parameters<Pricing["costUnits"]>[1]> = {}) => ({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  cacheCreation1hTokens: 0,
  ...over,
});

const pricing = new Pricing(BUILTIN_PRICE_TABLE);
const cost = (model: string | null, over: Parameters<typeof usage>[0]) => {
  const units = pricing.costUnits(model, usage(over));
  return units === null ? null : formatCost(units);
};

describe("the built-in price table", () => {
  it("is a valid price table (the contract override files are held to)", () => {
    expect(priceTable.safeParse(BUILTIN_PRICE_TABLE).success).toBe(true);
  });

  it("prices every Claude 3.x and 4.x family Claude Code has used", () => {
    for (const model of [
      "claude-opus-4-7",
      "claude-opus-4-6",
      "claude-opus-4-5-20251101",
      "claude-opus-4-1-20250805",
      "claude-opus-4-20250514",
      "claude-3-opus-20240229",
      "claude-sonnet-4-6",
      "claude-sonnet-4-5-20250929",
      "claude-sonnet-4-20250514",
      "claude-3-7-sonnet-20250219",
      "claude-3-5-sonnet-20241022",
      "claude-haiku-4-5-20251001",
      "claude-3-5-haiku-20241022",
      "claude-3-haiku-20240307",
    ]) {
      expect(pricing.priceOf(model), model).not.toBeNull();
    }
  });
});

describe("normalizeModelId", () => {
  it("drops dates, provider decoration and the 1M marker, nothing else", () => {
    expect(normalizeModelId("claude-sonnet-4-20250514")).toBe("claude-sonnet-4");
    expect(normalizeModelId("us.anthropic.claude-sonnet-4-20250514-v1:0")).toBe("claude-sonnet-4");
    expect(normalizeModelId("anthropic/claude-opus-4-6")).toBe("claude-opus-4-6");
    expect(normalizeModelId("claude-opus-4-1@20250805")).toBe("claude-opus-4-1");
    expect(normalizeModelId("Claude-Opus-4-6[1m]")).toBe("claude-opus-4-6");
    expect(normalizeModelId("claude-3-5-sonnet-latest")).toBe("claude-3-5-sonnet");
    expect(normalizeModelId("claude-opus-4-60")).toBe("claude-opus-4-60");
  });

  it("finds aliases and never prices a lookalike", () => {
    expect(pricing.priceOf("claude-opus-4-0")?.id).toBe("claude-opus-4");
    expect(pricing.priceOf("claude-opus-4-60")).toBeNull();
    expect(pricing.priceOf("gpt-5")).toBeNull();
    expect(pricing.priceOf(null)).toBeNull();
  });
});

describe("Pricing.costUnits", () => {
  it("prices each kind of token at its own rate, exactly", () => {
    // Opus 4.6: 5 / 25 / 6.25 (5m) / 10 (1h) / 0.5 per million.
    expect(
      cost("claude-opus-4-6", {
        inputTokens: 3,
        outputTokens: 13,
        cacheCreationTokens: 13_835,
        cacheReadTokens: 11_515,
      }),
    ).toBe("0.0925662500");
    expect(
      cost("claude-opus-4-6", {
        inputTokens: 3,
        outputTokens: 13,
        cacheCreationTokens: 13_835,
        cacheCreation1hTokens: 13_835,
        cacheReadTokens: 11_515,
      }),
    ).toBe("0.1444475000");
    // Haiku 3 cache reads: 0.03 per million is 3e-8 per token, kept, not rounded away.
    expect(cost("claude-3-haiku-20240307", { cacheReadTokens: 1 })).toBe("0.0000000300");
  });

  it("takes the long-context rates for every token once the prompt is over the threshold", () => {
    const under = { inputTokens: 100_000, cacheReadTokens: 100_000, outputTokens: 1_000 };
    const over = { inputTokens: 100_001, cacheReadTokens: 100_000, outputTokens: 1_000 };
    expect(cost("claude-sonnet-4-5-20250929", under)).toBe("0.3450000000"); // 0.3 + 0.03 + 0.015
    expect(cost("claude-sonnet-4-5-20250929", over)).toBe("0.6825060000"); // 0.600006 + 0.06 + 0.0225
    // Opus 4.6's 1M window has one flat price.
    expect(cost("claude-opus-4-6", over)).toBe("0.5750050000");
  });

  it("leaves an unknown model unpriced (null), and a response without tokens free", () => {
    expect(cost("mystery-model-1", { outputTokens: 10 })).toBeNull();
    expect(cost(null, { outputTokens: 10 })).toBeNull();
    expect(cost("<synthetic>", {})).toBe("0.0000000000");
  });

  it("turns reported dollar amounts into the same units", () => {
    expect(formatCost(usdToUnits(0.0123456789))).toBe("0.0123456789");
    expect(formatCost(usdToUnits(12.5))).toBe("12.5000000000");
  });
});

describe("price override files", () => {
  const dir = mkdtempSync(join(tmpdir(), "logbook-prices-"));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const table = {
    version: "team-1",
    date: "2026-11-30",
    source: "our contract",
    models: [
      { id: "claude-opus-4-6", input: 4, output: 20, cacheWrite5m: 5, cacheWrite1h: 8, cacheRead: 0.4 },
      { id: "acme-coder", input: 1, output: 2, cacheWrite5m: 1, cacheWrite1h: 1, cacheRead: 0.1 },
    ],
  };

  it("lays the file's models over the built-in ones", () => {
    const book = new PriceBook({ overrideFile: file("ok.json", JSON.stringify(table)) });
    expect(book.pricing.priceOf("claude-opus-4-6-20260101")?.input).toBe(4);
    expect(book.pricing.priceOf("acme-coder")?.output).toBe(2);
    expect(book.pricing.priceOf("claude-sonnet-4-20250514")?.input).toBe(3);
    expect(book.pricing.version).toBe("team-1+builtin.2026-12-01.1");
  });

  it("says what is wrong with a file that does not parse", () => {
    expect(() => readPriceTableFile(join(dir, "missing.json"))).toThrow(/cannot be read \(ENOENT\)/);
    expect(() => readPriceTableFile(file("bad.json", "{ nope"))).toThrow(/is not valid JSON/);
    const wrong = { ...table, models: [{ ...table.models[0], input: -1, extra: true }] };
    expect(() => readPriceTableFile(file("wrong.json", JSON.stringify(wrong)))).toThrow(
      /models\.0\.input: must not be negative.*models\.0: Unrecognized key/,
    );
    const fifth = { ...table, models: [{ ...table.models[0], input: 1.00001 }] };
    expect(() => readPriceTableFile(file("fifth.json", JSON.stringify(fifth)))).toThrow(/at most 4 decimals/);
    const twice = { ...table, models: [table.models[1], { ...table.models[1] }] };
    expect(() => new PriceBook({ overrideFile: file("twice.json", JSON.stringify(twice)) })).toThrow(
      /names both acme-coder and acme-coder/,
    );
  });

  it("keeps the prices it had when a reload finds the file broken", () => {
    const path = file("reload.json", JSON.stringify(table));
    const book = new PriceBook({ overrideFile: path });
    writeFileSync(path, "not json");
    expect(() => book.reload()).toThrow(/is not valid JSON/);
    expect(book.pricing.priceOf("acme-coder")).not.toBeNull();
  });
});
