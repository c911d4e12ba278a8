import { priceTable, type ModelPrice, type PriceTable } from "@logbook/contracts";

import { invalidInput } from "../errors.js";
import { readJsonFile } from "../json-file.js";
import { BUILTIN_PRICE_TABLE } from "./price-table.js";

/**
 * Pricing API responses from their token counts. Costs are computed exactly, in whole
 * units of 1e-10 USD (a price per million tokens times 10,000 is a whole number of those
 * per token), and leave as decimal strings for `numeric` columns: no float rounding, so
 * a session's cost is exactly the sum of its messages, and a reprice in SQL gives the
 * same digits as the ingest did.
 */

/** Token counts of one API response. */
export interface MessageUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  /** Every cache write; `cacheCreation1hTokens` of them with the 1-hour lifetime. */
  cacheCreationTokens: number;
  cacheCreation1hTokens: number;
}

const UNITS_PER_USD = 10_000_000_000n;

/** A rate in USD per million tokens as 1e-10 USD per token. */
const rateUnits = (rate: number): bigint => BigInt(Math.round(rate * 10_000));

/** A cost in 1e-10 USD units as the decimal text `numeric(20,10)` stores. */
export function formatCost(units: bigint): string {
  const whole = units / UNITS_PER_USD;
  const fraction = (units % UNITS_PER_USD).toString().padStart(10, "0");
  return `${whole}.${fraction}`;
}

/** A cost in USD (e.g. Claude Code's own `costUSD`) as 1e-10 USD units. */
export function usdToUnits(usd: number): bigint {
  return BigInt(Math.round(usd * 1e10));
}

/**
 * The id a model is priced under: lowercase, without the provider's decoration
 * (`us.anthropic.` or `anthropic/` prefixes, `@date` and `-v1:0` suffixes), the `[1m]`
 * context marker, a trailing release date (`-20250514`) or `-latest`.
 * `claude-sonnet-4-20250514` and `us.anthropic.claude-sonnet-4-20250514-v1:0` are both
 * `claude-sonnet-4`. No fuzzy matching: a model that does not normalise to a listed id
 * or alias is unknown, and stays unpriced rather than priced as a lookalike.
 */
export function normalizeModelId(model: string): string {
  return model
    .trim()
    .toLowerCase()
    .replace(/^(?:[a-z]{2,4}\.)?anthropic[./]/, "")
    .replace(/\[1m\]$/, "")
    .replace(/@.*$/, "")
    .replace(/-v\d+(?::\d+)?$/, "")
    .replace(/-(?:\d{8}|latest)$/, "");
}

/** A price table ready for lookups (every id and alias normalised). */
export class Pricing {
  readonly table: PriceTable;
  private readonly byId = new Map<string, ModelPrice>();

  constructor(table: PriceTable) {
    this.table = table;
    for (const model of table.models) {
      for (const name of [model.id, ...(model.aliases ?? [])]) {
        const key = normalizeModelId(name);
        const taken = this.byId.get(key);
        if (taken && taken !== model) {
          throw invalidInput(`price table: "${name}" names both ${taken.id} and ${model.id}`);
        }
        this.byId.set(key, model);
      }
    }
  }

  get version(): string {
    return this.table.version;
  }

  /** The price of a model, or null when the table does not know it. */
  priceOf(model: string | null): ModelPrice | null {
    if (model === null) return null;
    return this.byId.get(normalizeModelId(model)) ?? null;
  }

  /**
   * What one API response cost, in 1e-10 USD units: null when it has tokens and its model
   * has no price (unknown, never 0). A response without tokens costs nothing, whatever the
   * model (Claude Code's `<synthetic>` messages).
   */
  costUnits(model: string | null, usage: MessageUsage): bigint | null {
    const { inputTokens, outputTokens, cacheReadTokens, cacheCreationTokens } = usage;
    if (inputTokens + outputTokens + cacheReadTokens + cacheCreationTokens === 0) return 0n;
    const price = this.priceOf(model);
    if (price === null) return null;
    const prompt = inputTokens + cacheCreationTokens + cacheReadTokens;
    const rates = price.longContext && prompt > price.longContext.thresholdTokens ? price.longContext : price;
    const oneHour = Math.min(usage.cacheCreation1hTokens, cacheCreationTokens);
    return (
      BigInt(inputTokens) * rateUnits(rates.input) +
      BigInt(outputTokens) * rateUnits(rates.output) +
      BigInt(cacheCreationTokens - oneHour) * rateUnits(rates.cacheWrite5m) +
      BigInt(oneHour) * rateUnits(rates.cacheWrite1h) +
      BigInt(cacheReadTokens) * rateUnits(rates.cacheRead)
    );
  }
}

/** The built-in table with a file's models laid over it (same id: the file's wins). */
function mergeTables(base: PriceTable, over: PriceTable): PriceTable {
  const replaced = new Set(over.models.map((m) => normalizeModelId(m.id)));
  return {
    version: `${over.version}+builtin.${base.version}`,
    date: over.date,
    source: `${over.source}; other models: ${base.source}`,
    models: [...over.models, ...base.models.filter((m) => !replaced.has(normalizeModelId(m.id)))],
  };
}

/**
 * Reads a price override file (JSON, the `priceTable` contract). Every problem is an
 * INVALID_INPUT that names the file and what is wrong: the server refuses to start with
 * it, and `usage.reprice` answers 400 and changes nothing.
 */
export function readPriceTableFile(path: string): PriceTable {
  return readJsonFile(path, "price file", "a valid price table", priceTable);
}

/**
 * The prices in force, shared by ingest (costs of new messages) and the usage service
 * (reports, reprice). `reload()` reads the override file again, so a changed file takes
 * effect through `usage.reprice` without a restart; a bad file leaves the prices as they were.
 */
export class PriceBook {
  readonly overrideFile: string | null;
  private readonly base: PriceTable;
  private current: Pricing;

  constructor(options: { overrideFile?: string | null; table?: PriceTable } = {}) {
    this.overrideFile = options.overrideFile ?? null;
    this.base = options.table ?? BUILTIN_PRICE_TABLE;
    this.current = this.load();
  }

  get pricing(): Pricing {
    return this.current;
  }

  reload(): Pricing {
    this.current = this.load();
    return this.current;
  }

  private load(): Pricing {
    return new Pricing(
      this.overrideFile === null ? this.base : mergeTables(this.base, readPriceTableFile(this.overrideFile)),
    );
  }
}
