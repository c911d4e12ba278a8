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
] as const;

export type TableName = (typeof TABLES)[number];
