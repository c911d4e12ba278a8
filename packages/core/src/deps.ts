import type { Knex } from "@logbook/db";

import { PriceBook } from "./pricing/pricing.js";

/** What every service is built from. Passed explicitly: no globals, so tests can run many. */
export interface CoreDeps {
  knex: Knex;
  /** The clock, replaceable in tests. @default () => new Date() */
  now?: () => Date;
  /** The prices messages are costed with. @default the built-in table */
  prices?: PriceBook;
}

export function clockOf(deps: CoreDeps): () => Date {
  return deps.now ?? (() => new Date());
}

/** The deps with a price book settled, so every service built from them shares one. */
export function withPrices<T extends CoreDeps>(deps: T): T & { prices: PriceBook } {
  return deps.prices ? (deps as T & { prices: PriceBook }) : { ...deps, prices: new PriceBook() };
}
