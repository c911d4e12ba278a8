import type { Knex } from "@logbook/db";

import { PriceBook } from "./pricing/pricing.js";
import type { Redactor } from "./redaction/redactor.js";

/** What every service is built from. Passed explicitly: no globals, so tests can run many. */
export interface CoreDeps {
  knex: Knex;
  /**
   * A streaming replica for the reads that may lag a moment behind the primary: session
   * lists, timelines, recent events and usage reports (docs/scaling.md lists them). Writes
   * and reads that must see the caller's own write (a get by id, the live bus) stay on
   * `knex`. @default knex
   */
  readKnex?: Knex;
  /** The clock, replaceable in tests. @default () => new Date() */
  now?: () => Date;
  /** The prices messages are costed with. @default the built-in table */
  prices?: PriceBook;
  /** Replaces secrets in events before they are stored. @default the built-in rules, on */
  redactor?: Redactor;
  /**
   * Ingest a batch in one database call when it qualifies (`events/ingest-fast-path.ts`).
   * false: every batch takes the ordinary pipeline, the reference the one-call path is
   * tested against. @default true
   */
  oneCallIngest?: boolean;
}

/** Where the lag-tolerant reads go: the replica, or the primary when there is none. */
export function readerOf(deps: CoreDeps): Knex {
  return deps.readKnex ?? deps.knex;
}

export function clockOf(deps: CoreDeps): () => Date {
  return deps.now ?? (() => new Date());
}

/** The deps with a price book settled, so every service built from them shares one. */
export function withPrices<T extends CoreDeps>(deps: T): T & { prices: PriceBook } {
  return deps.prices ? (deps as T & { prices: PriceBook }) : { ...deps, prices: new PriceBook() };
}
