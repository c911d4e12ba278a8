import type { Knex } from "knex";

/**
 * Projects and sessions: the spine every other table hangs from.
 * Status words and their transitions are documented in docs/data-model.md; the check
 * constraint here is the last line of defence behind the state machine in core.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION logbook_set_updated_at() RETURNS trigger AS $$
    BEGIN
      NEW.updated_at = now();
      RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
  `);

  await knex.schema.createTable("projects", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.text("path").notNullable().unique({ indexName: "projects_path_unique" });
    t.text("name");
    t.jsonb("config").notNullable().defaultTo("{}");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable("sessions", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.text("external_id").unique({ indexName: "sessions_external_id_unique" });
    t.uuid("parent_session_id").references("id").inTable("sessions").onDelete("CASCADE");
    // A person may re-parent a session in a UI without touching the derived tree (seed 002).
    t.uuid("manual_parent_session_id").references("id").inTable("sessions").onDelete("SET NULL");
    t.uuid("project_id").references("id").inTable("projects").onDelete("RESTRICT");
    t.text("status").notNullable().defaultTo("pending");
    t.timestamp("status_changed_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("archived_at", { useTz: true });
    t.text("session_type").notNullable().defaultTo("agent");
    t.text("mode");
    t.text("permission_mode");
    t.text("title");
    t.text("label");
    t.text("initial_query");
    t.text("context");
    t.text("output_buffer");
    t.text("cwd");
    t.text("transcript_path");
    t.text("machine_id");
    t.text("agent_id");
    t.text("agent_type");
    t.text("model");
    t.text("process_id");
    t.boolean("is_working").notNullable().defaultTo(false);
    t.uuid("current_job_id");
    t.text("last_job_status");
    t.boolean("pinned").notNullable().defaultTo(false);
    t.boolean("hidden").notNullable().defaultTo(false);
    t.boolean("is_user_initiated").notNullable().defaultTo(true);
    t.jsonb("config").notNullable().defaultTo("{}");
    t.jsonb("result");
    t.jsonb("metadata").notNullable().defaultTo("{}");
    t.text("error_message");
    t.bigInteger("input_tokens").notNullable().defaultTo(0);
    t.bigInteger("output_tokens").notNullable().defaultTo(0);
    t.bigInteger("cache_read_tokens").notNullable().defaultTo(0);
    t.bigInteger("cache_creation_tokens").notNullable().defaultTo(0);
    t.decimal("cost_usd", 14, 6).notNullable().defaultTo(0);
    // Allocator for events.seq: ingest bumps it under the session's row lock.
    t.bigInteger("last_event_seq").notNullable().defaultTo(0);
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("started_at", { useTz: true });
    t.timestamp("last_activity_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("ended_at", { useTz: true });
  });

  await knex.raw(`
    ALTER TABLE sessions
      ADD CONSTRAINT sessions_status_check CHECK (status IN (
        'pending','initializing','active','idle','waiting_input','paused',
        'completed','failed','cancelled','terminated')),
      ADD CONSTRAINT sessions_not_own_parent CHECK (parent_session_id IS NULL OR parent_session_id <> id),
      ADD CONSTRAINT sessions_tokens_non_negative CHECK (
        input_tokens >= 0 AND output_tokens >= 0 AND cache_read_tokens >= 0
        AND cache_creation_tokens >= 0 AND cost_usd >= 0),
      ADD CONSTRAINT sessions_external_id_length CHECK (char_length(external_id) BETWEEN 1 AND 255);

    CREATE INDEX sessions_status_last_activity_idx ON sessions (status, last_activity_at DESC);
    CREATE INDEX sessions_created_at_idx ON sessions (created_at DESC, id DESC);
    CREATE INDEX sessions_last_activity_idx ON sessions (last_activity_at DESC, id DESC);
    CREATE INDEX sessions_parent_idx ON sessions (parent_session_id) WHERE parent_session_id IS NOT NULL;
    CREATE INDEX sessions_project_idx ON sessions (project_id, last_activity_at DESC);
    CREATE INDEX sessions_machine_idx ON sessions (machine_id, last_activity_at DESC) WHERE machine_id IS NOT NULL;
    CREATE INDEX sessions_process_idx ON sessions (process_id) WHERE process_id IS NOT NULL;
    CREATE INDEX sessions_pinned_idx ON sessions (last_activity_at DESC) WHERE pinned;
    -- The live dashboard: visible, unarchived sessions that are not finished.
    CREATE INDEX sessions_live_idx ON sessions (last_activity_at DESC)
      WHERE archived_at IS NULL AND NOT hidden
        AND status IN ('pending','initializing','active','idle','waiting_input','paused');
    -- Retention scans finished sessions by age.
    CREATE INDEX sessions_finished_idx ON sessions (ended_at)
      WHERE status IN ('completed','failed','cancelled','terminated');
    CREATE INDEX sessions_errors_idx ON sessions (last_activity_at DESC) WHERE status = 'failed';

    CREATE TRIGGER projects_updated_at BEFORE UPDATE ON projects
      FOR EACH ROW EXECUTE FUNCTION logbook_set_updated_at();
    CREATE TRIGGER sessions_updated_at BEFORE UPDATE ON sessions
      FOR EACH ROW EXECUTE FUNCTION logbook_set_updated_at();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("sessions");
  await knex.schema.dropTable("projects");
  await knex.raw("DROP FUNCTION IF EXISTS logbook_set_updated_at()");
}
