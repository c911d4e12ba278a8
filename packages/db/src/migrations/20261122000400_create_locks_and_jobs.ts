import type { Knex } from "knex";

/** Project locks (one holder per project, with expiry) and the background job queue. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("project_locks", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.uuid("project_id")
      .notNullable()
      .unique({ indexName: "project_locks_project_unique" })
      .references("id")
      .inTable("projects")
      .onDelete("CASCADE");
    // Who holds it: a session, a worker or a person; release and renew check it.
    t.text("owner").notNullable();
    t.uuid("session_id").references("id").inTable("sessions").onDelete("CASCADE");
    t.timestamp("acquired_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("renewed_at", { useTz: true });
    t.timestamp("expires_at", { useTz: true }).notNullable();
  });
  await knex.raw(`
    ALTER TABLE project_locks ADD CONSTRAINT project_locks_expiry_after_acquire CHECK (expires_at > acquired_at);
    CREATE INDEX project_locks_expires_at_idx ON project_locks (expires_at);
  `);

  await knex.schema.createTable("jobs", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.text("type").notNullable();
    t.jsonb("data").notNullable().defaultTo("{}");
    t.text("status").notNullable().defaultTo("pending");
    t.integer("priority").notNullable().defaultTo(0);
    t.integer("attempts").notNullable().defaultTo(0);
    t.integer("max_attempts").notNullable().defaultTo(3);
    t.text("error");
    t.jsonb("result");
    t.uuid("session_id").references("id").inTable("sessions").onDelete("SET NULL");
    t.text("lease_owner");
    t.timestamp("lease_expires_at", { useTz: true });
    t.timestamp("scheduled_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("started_at", { useTz: true });
    t.timestamp("completed_at", { useTz: true });
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`
    ALTER TABLE jobs
      ADD CONSTRAINT jobs_status_check CHECK (status IN ('pending','running','completed','failed','cancelled')),
      ADD CONSTRAINT jobs_attempts_check CHECK (attempts >= 0 AND max_attempts >= 1),
      ADD CONSTRAINT jobs_type_shape CHECK (type ~ '^[A-Za-z][A-Za-z0-9_.:-]{0,99}$');
    -- Claim order: highest priority first, then earliest due.
    CREATE INDEX jobs_claimable_idx ON jobs (priority DESC, scheduled_at) WHERE status = 'pending';
    CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
    CREATE INDEX jobs_status_created_idx ON jobs (status, created_at DESC);
    CREATE INDEX jobs_session_idx ON jobs (session_id) WHERE session_id IS NOT NULL;
    CREATE TRIGGER jobs_updated_at BEFORE UPDATE ON jobs
      FOR EACH ROW EXECUTE FUNCTION logbook_set_updated_at();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("jobs");
  await knex.schema.dropTable("project_locks");
}
