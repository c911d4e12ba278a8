import type { Knex } from "knex";

/** What a session produces besides events: messages, tracked files, workflow steps, artifacts. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("session_messages", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.uuid("session_id").notNullable().references("id").inTable("sessions").onDelete("CASCADE");
    t.text("role").notNullable();
    t.text("text").notNullable();
    t.text("model");
    // The event (transcript line or hook) the message was derived from: re-derivation is a no-op.
    t.uuid("source_event_id");
    // The provider's message id (Claude's `message.id`): usage is counted once per id.
    t.text("external_message_id");
    t.text("claude_session_id");
    t.bigInteger("input_tokens").notNullable().defaultTo(0);
    t.bigInteger("output_tokens").notNullable().defaultTo(0);
    t.bigInteger("cache_read_tokens").notNullable().defaultTo(0);
    t.bigInteger("cache_creation_tokens").notNullable().defaultTo(0);
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`
    ALTER TABLE session_messages
      ADD CONSTRAINT session_messages_role_check CHECK (role IN ('user','assistant','system'));
    CREATE INDEX session_messages_session_created_idx ON session_messages (session_id, created_at, id);
    CREATE UNIQUE INDEX session_messages_source_event_unique ON session_messages (session_id, source_event_id)
      WHERE source_event_id IS NOT NULL;
    CREATE UNIQUE INDEX session_messages_external_unique ON session_messages (session_id, external_message_id)
      WHERE external_message_id IS NOT NULL;
    CREATE INDEX session_messages_claude_session_idx ON session_messages (claude_session_id)
      WHERE claude_session_id IS NOT NULL;
  `);

  await knex.schema.createTable("files", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.uuid("session_id").notNullable().references("id").inTable("sessions").onDelete("CASCADE");
    t.text("path").notNullable();
    t.text("content");
    t.text("encoding").notNullable().defaultTo("utf-8");
    t.bigInteger("size_bytes");
    t.text("mime_type");
    t.text("sha256");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(["session_id", "path"], { indexName: "files_session_path_unique" });
  });
  await knex.raw(`
    -- Paths are relative to the project: no absolute paths, no '..' segments, no NUL.
    ALTER TABLE files
      ADD CONSTRAINT files_path_relative CHECK (
        char_length(path) BETWEEN 1 AND 4096
        AND path !~ '^(/|\\\\|[A-Za-z]:)'
        AND path !~ '(^|/|\\\\)\\.\\.(/|\\\\|$)'),
      ADD CONSTRAINT files_size_non_negative CHECK (size_bytes IS NULL OR size_bytes >= 0);
    CREATE INDEX files_updated_at_idx ON files (updated_at);
    CREATE TRIGGER files_updated_at BEFORE UPDATE ON files
      FOR EACH ROW EXECUTE FUNCTION logbook_set_updated_at();
  `);

  await knex.schema.createTable("steps", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.uuid("session_id").notNullable().references("id").inTable("sessions").onDelete("CASCADE");
    t.text("name").notNullable();
    t.integer("sequence").notNullable();
    t.text("status").notNullable().defaultTo("pending");
    t.jsonb("input");
    t.jsonb("output");
    t.text("error_message");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("started_at", { useTz: true });
    t.timestamp("completed_at", { useTz: true });
    t.unique(["session_id", "sequence"], { indexName: "steps_session_sequence_unique" });
  });
  await knex.raw(`
    ALTER TABLE steps
      ADD CONSTRAINT steps_status_check CHECK (status IN ('pending','running','completed','failed','skipped','cancelled')),
      ADD CONSTRAINT steps_sequence_non_negative CHECK (sequence >= 0);
    CREATE TRIGGER steps_updated_at BEFORE UPDATE ON steps
      FOR EACH ROW EXECUTE FUNCTION logbook_set_updated_at();
  `);

  await knex.schema.createTable("artifacts", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.uuid("session_id").notNullable().references("id").inTable("sessions").onDelete("CASCADE");
    t.uuid("step_id").references("id").inTable("steps").onDelete("SET NULL");
    t.text("artifact_type").notNullable();
    t.text("name").notNullable();
    t.text("content_path").notNullable();
    t.bigInteger("size_bytes");
    t.jsonb("metadata").notNullable().defaultTo("{}");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`
    CREATE INDEX artifacts_session_idx ON artifacts (session_id, created_at);
    CREATE INDEX artifacts_type_idx ON artifacts (artifact_type);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("artifacts");
  await knex.schema.dropTable("steps");
  await knex.schema.dropTable("files");
  await knex.schema.dropTable("session_messages");
}
