import type { Knex } from "knex";

/**
 * The events table: the largest by far, so it is shaped for scale-out (DESIGN.md).
 * - The key leads with session_id (Citus distribution column) and includes occurred_at
 *   (range partitioning), so either can be switched on without rewriting keys.
 * - Idempotency: clients generate the id and resend the same (session, occurred_at, id)
 *   on retry, so `ON CONFLICT DO NOTHING` on the key drops the duplicate.
 * - No other table has a foreign key into events.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("events", (t) => {
    t.uuid("id").notNullable();
    // Global arrival order: live subscriptions resume after the last one a client saw.
    t.bigIncrements("stream_seq", { primaryKey: false });
    t.uuid("session_id").notNullable().references("id").inTable("sessions").onDelete("CASCADE");
    t.bigInteger("seq").notNullable();
    t.text("event_type").notNullable();
    t.text("source").notNullable();
    t.text("level").notNullable().defaultTo("info");
    t.text("message");
    t.text("tool_name");
    t.text("tool_use_id");
    t.uuid("parent_event_id");
    t.text("parent_uuid");
    t.boolean("is_sidechain").notNullable().defaultTo(false);
    t.text("agent_id");
    t.text("cwd");
    t.text("machine_id");
    t.jsonb("payload").notNullable().defaultTo("{}");
    t.timestamp("occurred_at", { useTz: true }).notNullable();
    t.timestamp("received_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(["session_id", "occurred_at", "id"], { constraintName: "events_pkey" });
  });

  await knex.raw(`
    ALTER TABLE events
      ADD CONSTRAINT events_event_type_shape CHECK (event_type ~ '^[A-Za-z][A-Za-z0-9_.:-]{0,99}$'),
      ADD CONSTRAINT events_source_check CHECK (source IN ('hook','transcript','api','system')),
      ADD CONSTRAINT events_level_check CHECK (level IN ('debug','info','warning','error'));

    -- The timeline: a session's events in their stable order.
    CREATE INDEX events_session_seq_idx ON events (session_id, seq);
    -- The seeds' main pattern: a session's events by time.
    CREATE INDEX events_session_occurred_idx ON events (session_id, occurred_at);
    -- Recent activity across sessions, and retention by age.
    CREATE INDEX events_occurred_idx ON events (occurred_at);
    CREATE INDEX events_type_occurred_idx ON events (event_type, occurred_at);
    CREATE INDEX events_id_idx ON events (id);
    CREATE INDEX events_stream_seq_idx ON events (stream_seq);
    CREATE INDEX events_machine_occurred_idx ON events (machine_id, occurred_at) WHERE machine_id IS NOT NULL;
    CREATE INDEX events_errors_idx ON events (occurred_at) WHERE level = 'error';
    CREATE INDEX events_tools_idx ON events (tool_name, occurred_at) WHERE tool_name IS NOT NULL;
    CREATE INDEX events_payload_gin ON events USING gin (payload jsonb_path_ops);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("events");
}
