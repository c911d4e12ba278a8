import type { Knex } from "knex";

/**
 * The Claude Agent SDK's session store (issue 18): which Logbook session holds each key the
 * SDK writes (`projectKey`, `sessionId`, `subpath` for a subagent's transcript), and when it
 * was last written (the SDK's `mtime`). The entries themselves are transcript events of that
 * session, so they take part in everything else (timelines, messages, tokens, search).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE agent_sdk_sessions (
      project_key text NOT NULL,
      session_id text NOT NULL,
      subpath text NOT NULL DEFAULT '',
      external_id text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (project_key, session_id, subpath)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE agent_sdk_sessions;`);
}
