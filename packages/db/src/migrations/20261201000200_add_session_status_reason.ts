import type { Knex } from "knex";

/**
 * Why a session is in its status, when that is worth saying (issue 16): what it waits for
 * (`permission: Bash`, `idle_prompt: Claude is waiting for your input`), or that it went
 * quiet. The "needs you" query lists waiting sessions longest first, so it gets an index.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sessions ADD COLUMN status_reason text;
    CREATE INDEX sessions_waiting_idx ON sessions (status_changed_at, id)
      WHERE status = 'waiting_input' AND archived_at IS NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX sessions_waiting_idx;
    ALTER TABLE sessions DROP COLUMN status_reason;
  `);
}
