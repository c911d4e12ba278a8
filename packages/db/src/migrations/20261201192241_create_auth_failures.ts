import type { Knex } from "knex";

/**
 * Failed authentications per client address, shared by every server replica (the auth
 * throttle, docs/scaling.md): counted per process, N replicas behind a balancer let a
 * guesser try N times as often.
 *
 * UNLOGGED: a throttle's counts are worth no WAL, and losing them in a crash (the table is
 * emptied on recovery) only gives a guesser a fresh window. It is not replicated to a
 * standby either; only the primary ever reads or writes it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE UNLOGGED TABLE auth_failures (
      address text PRIMARY KEY,
      window_started_at timestamptz NOT NULL,
      failures integer NOT NULL CHECK (failures > 0)
    );
    -- Windows that ended are swept a few at a time by the writers.
    CREATE INDEX auth_failures_window_idx ON auth_failures (window_started_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE auth_failures");
}
