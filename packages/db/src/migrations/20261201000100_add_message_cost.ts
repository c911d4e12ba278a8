import type { Knex } from "knex";

/**
 * Cost per message (issue 16). Each assistant message keeps what it cost, computed from
 * its tokens and the price table (or what Claude Code reported, which wins), so a session's
 * cost is the sum of its messages and a price change can be applied again (`usage.reprice`).
 *
 * Money is `numeric`, never a float: a session is the exact sum of its messages. Ten
 * decimals hold the cost of a single token (a cache read of a small model is 3e-8 USD).
 * A message with tokens but no known price keeps a NULL cost and counts as unpriced,
 * never as free.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE session_messages
      ADD COLUMN cost_usd numeric(20,10),
      ADD COLUMN reported_cost_usd numeric(20,10),
      ADD COLUMN cache_creation_1h_tokens bigint NOT NULL DEFAULT 0,
      ADD CONSTRAINT session_messages_cost_non_negative CHECK (
        (cost_usd IS NULL OR cost_usd >= 0) AND (reported_cost_usd IS NULL OR reported_cost_usd >= 0)
        AND cache_creation_1h_tokens >= 0 AND cache_creation_1h_tokens <= cache_creation_tokens);
    -- Usage reports read messages by time.
    CREATE INDEX session_messages_created_idx ON session_messages (created_at) WHERE role = 'assistant';

    ALTER TABLE sessions
      ALTER COLUMN cost_usd TYPE numeric(20,10),
      ADD COLUMN unpriced_messages integer NOT NULL DEFAULT 0,
      ADD CONSTRAINT sessions_unpriced_non_negative CHECK (unpriced_messages >= 0);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sessions
      DROP CONSTRAINT sessions_unpriced_non_negative,
      DROP COLUMN unpriced_messages,
      ALTER COLUMN cost_usd TYPE numeric(14,6);
    DROP INDEX session_messages_created_idx;
    ALTER TABLE session_messages
      DROP CONSTRAINT session_messages_cost_non_negative,
      DROP COLUMN cache_creation_1h_tokens,
      DROP COLUMN reported_cost_usd,
      DROP COLUMN cost_usd;
  `);
}
