import type { Knex } from "@logbook/db";

/** What every service is built from. Passed explicitly: no globals, so tests can run many. */
export interface CoreDeps {
  knex: Knex;
  /** The clock, replaceable in tests. @default () => new Date() */
  now?: () => Date;
}

export function clockOf(deps: CoreDeps): () => Date {
  return deps.now ?? (() => new Date());
}
