import type { Knex } from "knex";

/**
 * Outbound webhooks (issue 16). A subscription names a receiver URL and the session
 * statuses it wants to hear about; its signing secret is kept as given (HMAC needs it),
 * never returned after creation. Every status change of a session fans out, in the same
 * transaction, into one delivery per matching subscription and one `webhook.deliver` job
 * per delivery: whatever path changed the status (ingest, a transition, the inactivity
 * sweep), no change is lost and none is sent for a rolled-back write. The server's worker
 * sends them (packages/core/src/webhooks); each try is a row in `webhook_attempts`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("webhook_subscriptions", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.text("name");
    t.text("url").notNullable();
    t.specificType("events", "text[]").notNullable();
    t.uuid("project_id").references("id").inTable("projects").onDelete("CASCADE");
    t.text("format").notNullable().defaultTo("json");
    t.boolean("enabled").notNullable().defaultTo(true);
    t.text("secret").notNullable();
    t.integer("consecutive_failures").notNullable().defaultTo(0);
    t.text("disabled_reason");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("last_delivery_at", { useTz: true });
  });
  await knex.schema.createTable("webhook_deliveries", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.uuid("subscription_id").notNullable().references("id").inTable("webhook_subscriptions").onDelete("CASCADE");
    t.text("event").notNullable();
    // No foreign key: a delivery outlives the session it tells about (retention may purge it).
    t.uuid("session_id");
    t.jsonb("data").notNullable();
    t.text("status").notNullable().defaultTo("pending");
    t.integer("attempts").notNullable().defaultTo(0);
    t.timestamp("next_attempt_at", { useTz: true });
    t.timestamp("delivered_at", { useTz: true });
    t.integer("last_status_code");
    t.text("last_error");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable("webhook_attempts", (t) => {
    t.uuid("delivery_id").notNullable().references("id").inTable("webhook_deliveries").onDelete("CASCADE");
    t.integer("attempt").notNullable();
    t.timestamp("started_at", { useTz: true }).notNullable();
    t.integer("duration_ms").notNullable();
    t.integer("status_code");
    t.text("error");
    t.text("response_excerpt");
    t.timestamp("next_attempt_at", { useTz: true });
    t.primary(["delivery_id", "attempt"]);
  });
  await knex.raw(`
    ALTER TABLE webhook_subscriptions
      ADD CONSTRAINT webhook_subscriptions_format_check CHECK (format IN ('json', 'slack')),
      ADD CONSTRAINT webhook_subscriptions_events_check CHECK (cardinality(events) >= 1);
    ALTER TABLE webhook_deliveries
      ADD CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed'));
    CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, created_at DESC, id DESC);
    CREATE TRIGGER webhook_subscriptions_updated_at BEFORE UPDATE ON webhook_subscriptions
      FOR EACH ROW EXECUTE FUNCTION logbook_set_updated_at();

    CREATE FUNCTION logbook_webhooks_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      WITH made AS (
        INSERT INTO webhook_deliveries (subscription_id, event, session_id, data)
        SELECT s.id, 'session.' || NEW.status, NEW.id, jsonb_build_object(
            'occurredAt', to_char(NEW.status_changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'session', jsonb_build_object(
              'id', NEW.id, 'externalId', NEW.external_id, 'title', NEW.title, 'projectId', NEW.project_id,
              'cwd', NEW.cwd, 'status', NEW.status, 'statusReason', NEW.status_reason,
              'previousStatus', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END))
        FROM webhook_subscriptions s
        WHERE s.enabled AND ('session.' || NEW.status) = ANY (s.events)
          AND (s.project_id IS NULL OR s.project_id = NEW.project_id)
        RETURNING id)
      -- The worker counts attempts against its own cap; the job's max only bounds lease recoveries.
      INSERT INTO jobs (type, data, max_attempts)
      SELECT 'webhook.deliver', jsonb_build_object('deliveryId', made.id), 100 FROM made;
      RETURN NULL;
    END $$;
    CREATE TRIGGER sessions_webhooks_on_update AFTER UPDATE OF status ON sessions
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION logbook_webhooks_fan_out();
    CREATE TRIGGER sessions_webhooks_on_insert AFTER INSERT ON sessions
      FOR EACH ROW WHEN (NEW.status <> 'pending') EXECUTE FUNCTION logbook_webhooks_fan_out();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER sessions_webhooks_on_insert ON sessions;
    DROP TRIGGER sessions_webhooks_on_update ON sessions;
    DROP FUNCTION logbook_webhooks_fan_out();
  `);
  await knex.schema.dropTable("webhook_attempts");
  await knex.schema.dropTable("webhook_deliveries");
  await knex.schema.dropTable("webhook_subscriptions");
}
