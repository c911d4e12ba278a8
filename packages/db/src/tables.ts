/**
 * Every table the migrations create (knex's own bookkeeping left out). The migration test
 * checks this list against the database after `up`, so it stays true; tools that count or
 * compare rows (the reliability suites) read it from here.
 */
export const TABLES = [
  "projects",
  "project_locks",
  "sessions",
  "events",
  "session_messages",
  "files",
  "steps",
  "artifacts",
  "jobs",
  "api_keys",
  "login_links",
  "web_sessions",
  "otel_metric_points",
  "agent_sdk_sessions",
  "webhook_subscriptions",
  "webhook_deliveries",
  "webhook_attempts",
  "auth_failures",
] as const;

export type TableName = (typeof TABLES)[number];

/**
 * Tables whose rows belong to one session, keyed by `session_id`: in a distributed
 * PostgreSQL (Citus, docs/scaling.md) they are distributed by it, co-located with their
 * session. The schema keeps what that needs (checked by distribution.test.ts): every
 * unique key contains `session_id`, references among them carry it, nothing references
 * `events`.
 */
export const SESSION_COLOCATED_TABLES = ["events", "session_messages", "files", "steps", "artifacts"] as const;
