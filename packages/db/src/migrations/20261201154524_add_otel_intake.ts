import type { Knex } from "knex";

/**
 * OpenTelemetry intake (issue 18).
 * - Events may come from `otel` (Claude Code's OTLP log events and spans, `POST /v1/logs`,
 *   `/v1/traces`): the source check learns the word.
 * - Metric points (`POST /v1/metrics`) are a time series of their own, not events: one row
 *   per data point, kept by session (Claude Code's `session.id`, as text: a point may arrive
 *   before any event names its session), user and model. The id is a name-based UUID of the
 *   point's identity (metric, attributes, resource, times), so an exporter's retry is stored
 *   once (`ON CONFLICT DO NOTHING`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE events
      DROP CONSTRAINT events_source_check,
      ADD CONSTRAINT events_source_check CHECK (source IN ('hook','transcript','api','system','otel'));

    CREATE TABLE otel_metric_points (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('gauge','sum','histogram','exponential_histogram','summary')),
      unit text,
      temporality text CHECK (temporality IN ('delta','cumulative')),
      external_session_id text,
      user_id text,
      model text,
      value double precision,
      count bigint,
      start_time timestamptz,
      time timestamptz NOT NULL,
      attributes jsonb NOT NULL DEFAULT '{}',
      resource jsonb NOT NULL DEFAULT '{}',
      received_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX otel_metric_points_session_idx ON otel_metric_points (external_session_id, time)
      WHERE external_session_id IS NOT NULL;
    CREATE INDEX otel_metric_points_user_idx ON otel_metric_points (user_id, time) WHERE user_id IS NOT NULL;
    CREATE INDEX otel_metric_points_model_idx ON otel_metric_points (model, time) WHERE model IS NOT NULL;
    CREATE INDEX otel_metric_points_name_idx ON otel_metric_points (name, time);
  `);
}

export async function down(knex: Knex): Promise<void> {
  // NOT VALID: events already stored from OTel stay (a rollback must not delete what was kept).
  await knex.raw(`
    DROP TABLE otel_metric_points;
    ALTER TABLE events
      DROP CONSTRAINT events_source_check,
      ADD CONSTRAINT events_source_check CHECK (source IN ('hook','transcript','api','system')) NOT VALID;
  `);
}
