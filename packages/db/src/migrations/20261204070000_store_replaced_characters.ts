import type { Knex } from "knex";

import { up as createPreviousFunction } from "./20261202030558_ingest_group_one_session_update.js";

/**
 * How many characters PostgreSQL cannot hold (NUL, a lone UTF-16 surrogate) were stored as
 * U+FFFD, per event and summed per session, as `redactions` counts secrets: the stored record
 * itself says that its text was changed on the way in, not only the ingest call's answer.
 * Constant defaults: PostgreSQL adds such columns without rewriting a table.
 *
 * `logbook_ingest_group(…)` takes each event's count (`p_replaced`, after `p_redactions`) and
 * a session's sum in `p_updates` (`replaced`); otherwise it is the function of
 * 20261202030558, its result and errors unchanged. The whole body is written out again, as
 * each migration that changes the function does: a migration is a snapshot, never built from
 * another one's text, which a later edit there would change under it.
 */
// Exported for 20261204230000's `down`, which makes this definition again.
export const CREATE = `
CREATE FUNCTION logbook_ingest_group(
  p_new jsonb, p_sessions jsonb,
  p_ids uuid[], p_session_ids uuid[], p_places bigint[], p_event_types text[], p_sources text[], p_levels text[],
  p_messages text[], p_tool_names text[], p_tool_use_ids text[], p_parent_event_ids uuid[], p_parent_uuids text[],
  p_is_sidechain boolean[], p_agent_ids text[], p_cwds text[], p_machine_ids text[], p_occurred_at timestamptz[],
  p_redactions integer[], p_replaced integer[], p_payloads jsonb,
  p_event_messages jsonb, p_updates jsonb, p_session_notices text[]
) RETURNS TABLE (session_id uuid, project_id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  matched integer;
  r_count integer;
  r_min bigint;
  r_max bigint;
BEGIN
  -- New sessions first, in external id order, as the ordinary ingest's upsert does.
  IF p_new IS NOT NULL THEN
    INSERT INTO sessions (id, external_id, parent_session_id, status, status_changed_at, last_activity_at, cwd,
      machine_id, agent_id, agent_type, session_type, is_user_initiated)
    SELECT n.id, n.external_id, n.parent_session_id, 'pending', n.first_at, n.first_at, n.cwd, n.machine_id,
      n.agent_id, n.agent_type, n.session_type, n.is_user_initiated
    FROM jsonb_to_recordset(p_new) AS n(id uuid, external_id text, parent_session_id uuid, first_at timestamptz,
      cwd text, machine_id text, agent_id text, agent_type text, session_type text, is_user_initiated boolean)
    ORDER BY n.external_id
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS matched = ROW_COUNT;
    IF matched <> jsonb_array_length(p_new) THEN
      RAISE EXCEPTION 'logbook_ingest_group: a new session exists already' USING ERRCODE = 'LB001';
    END IF;
  END IF;

  -- Lock and check in one statement: the rows are locked in id order (so concurrent groups
  -- cannot deadlock), and the state compared is the locked row's latest version.
  SELECT count(*) FILTER (WHERE l.matches) INTO matched
  FROM (
    SELECT s.status = e.status
      AND date_trunc('milliseconds', s.status_changed_at) = e.status_changed_at
      AND date_trunc('milliseconds', s.started_at) IS NOT DISTINCT FROM e.started_at
      AND date_trunc('milliseconds', s.last_activity_at) = e.last_activity_at
      AND s.initial_query IS NOT DISTINCT FROM e.initial_query
      AND s.title IS NOT DISTINCT FROM e.title
      AND s.cwd IS NOT DISTINCT FROM e.cwd
      AND s.project_id IS NOT DISTINCT FROM e.project_id
      AND s.parent_session_id IS NOT DISTINCT FROM e.parent_session_id AS matches
    FROM sessions s
    JOIN jsonb_to_recordset(p_sessions) AS e(id uuid, n integer, status text, status_changed_at timestamptz,
      started_at timestamptz, last_activity_at timestamptz, initial_query text, title text, cwd text, project_id uuid,
      parent_session_id uuid) ON s.id = e.id
    ORDER BY s.id
    FOR NO KEY UPDATE OF s
  ) AS l;
  IF matched <> jsonb_array_length(p_sessions) THEN
    RAISE EXCEPTION 'logbook_ingest_group: a session is not in the expected state' USING ERRCODE = 'LB001';
  END IF;

  -- Each event's seq follows its session's counter as this call found it under the lock; the
  -- counter itself moves in the one UPDATE below.
  WITH ins AS (
    INSERT INTO events (id, session_id, seq, event_type, source, level, message, tool_name, tool_use_id,
      parent_event_id, parent_uuid, is_sidechain, agent_id, cwd, machine_id, occurred_at, redactions,
      replaced_characters, payload)
    SELECT t.id, t.session_id, s.last_event_seq + t.place, t.event_type, t.source, t.level, t.message, t.tool_name,
      t.tool_use_id, t.parent_event_id, t.parent_uuid, t.is_sidechain, t.agent_id, t.cwd, t.machine_id,
      t.occurred_at, t.redactions, t.replaced_characters, p_payloads -> (t.position::int - 1)
    FROM unnest(p_ids, p_session_ids, p_places, p_event_types, p_sources, p_levels, p_messages, p_tool_names,
      p_tool_use_ids, p_parent_event_ids, p_parent_uuids, p_is_sidechain, p_agent_ids, p_cwds, p_machine_ids,
      p_occurred_at, p_redactions, p_replaced)
      WITH ORDINALITY AS t(id, session_id, place, event_type, source, level, message, tool_name, tool_use_id,
        parent_event_id, parent_uuid, is_sidechain, agent_id, cwd, machine_id, occurred_at, redactions,
        replaced_characters, position)
    JOIN sessions AS s ON s.id = t.session_id
    ORDER BY t.position
    ON CONFLICT DO NOTHING
    RETURNING events.stream_seq
  )
  SELECT count(*), min(ins.stream_seq), max(ins.stream_seq) INTO r_count, r_min, r_max FROM ins;
  IF r_count <> cardinality(p_ids) THEN
    RAISE EXCEPTION 'logbook_ingest_group: an event was already stored' USING ERRCODE = 'LB001';
  END IF;

  IF p_event_messages IS NOT NULL THEN
    INSERT INTO session_messages (session_id, role, text, model, source_event_id, claude_session_id, created_at)
    SELECT m.session_id, m.role, m.text, m.model, m.source_event_id, m.claude_session_id, m.created_at
    FROM jsonb_to_recordset(p_event_messages) AS m(session_id uuid, role text, text text, model text,
      source_event_id uuid, claude_session_id text, created_at timestamptz)
    ON CONFLICT (session_id, source_event_id) WHERE source_event_id IS NOT NULL DO NOTHING;
  END IF;

  IF p_updates IS NOT NULL THEN
    -- Projects found or created before the update names them (a path's row committed by
    -- another group meanwhile is seen by the next statement: each has its own snapshot).
    INSERT INTO projects (path, name)
    SELECT DISTINCT x.project_path, x.project_name
    FROM jsonb_to_recordset(p_updates) AS x(project_path text, project_name text)
    WHERE x.project_path IS NOT NULL AND NOT EXISTS (SELECT 1 FROM projects pr WHERE pr.path = x.project_path)
    ORDER BY 1
    ON CONFLICT (path) DO NOTHING;
  END IF;

  -- One UPDATE per session per call: the seq counter and the derived columns together (a
  -- second version of the row per call cost a second entry in every index of sessions).
  UPDATE sessions AS s SET
    last_event_seq = s.last_event_seq + v.n,
    status = CASE WHEN x.p -> 'status' IS NOT NULL THEN (x.p ->> 'status')::text ELSE s.status END,
    status_reason = CASE WHEN x.p -> 'status_reason' IS NOT NULL THEN (x.p ->> 'status_reason')::text ELSE s.status_reason END,
    status_changed_at = CASE WHEN x.p -> 'status_changed_at' IS NOT NULL THEN (x.p ->> 'status_changed_at')::timestamptz ELSE s.status_changed_at END,
    is_working = CASE WHEN x.p -> 'is_working' IS NOT NULL THEN (x.p ->> 'is_working')::boolean ELSE s.is_working END,
    started_at = CASE WHEN x.p -> 'started_at' IS NOT NULL THEN (x.p ->> 'started_at')::timestamptz ELSE s.started_at END,
    ended_at = CASE WHEN x.p -> 'ended_at' IS NOT NULL THEN (x.p ->> 'ended_at')::timestamptz ELSE s.ended_at END,
    last_activity_at = CASE WHEN x.p -> 'last_activity_at' IS NOT NULL THEN (x.p ->> 'last_activity_at')::timestamptz ELSE s.last_activity_at END,
    cwd = CASE WHEN x.p -> 'cwd' IS NOT NULL THEN (x.p ->> 'cwd')::text ELSE s.cwd END,
    machine_id = CASE WHEN x.p -> 'machine_id' IS NOT NULL THEN (x.p ->> 'machine_id')::text ELSE s.machine_id END,
    agent_type = CASE WHEN x.p -> 'agent_type' IS NOT NULL THEN (x.p ->> 'agent_type')::text ELSE s.agent_type END,
    transcript_path = CASE WHEN x.p -> 'transcript_path' IS NOT NULL THEN (x.p ->> 'transcript_path')::text ELSE s.transcript_path END,
    permission_mode = CASE WHEN x.p -> 'permission_mode' IS NOT NULL THEN (x.p ->> 'permission_mode')::text ELSE s.permission_mode END,
    model = CASE WHEN x.p -> 'model' IS NOT NULL THEN (x.p ->> 'model')::text ELSE s.model END,
    initial_query = CASE WHEN x.p -> 'initial_query' IS NOT NULL THEN (x.p ->> 'initial_query')::text ELSE s.initial_query END,
    title = CASE WHEN x.p -> 'title' IS NOT NULL THEN (x.p ->> 'title')::text ELSE s.title END,
    error_message = CASE WHEN x.p -> 'error_message' IS NOT NULL THEN (x.p ->> 'error_message')::text ELSE s.error_message END,
    project_id = CASE WHEN x.project_path IS NOT NULL
      THEN (SELECT pr.id FROM projects pr WHERE pr.path = x.project_path) ELSE s.project_id END,
    metadata = CASE WHEN x.m IS NULL THEN s.metadata ELSE s.metadata || x.m END,
    redactions = s.redactions + coalesce(x.redactions, 0),
    replaced_characters = s.replaced_characters + coalesce(x.replaced, 0)
  FROM jsonb_to_recordset(p_sessions) AS v(id uuid, n integer)
  LEFT JOIN jsonb_to_recordset(p_updates) AS x(id uuid, p jsonb, m jsonb, redactions integer, replaced integer,
    project_path text)
    ON x.id = v.id
  WHERE s.id = v.id;

  PERFORM pg_notify('logbook_events', json_build_object('fromStreamSeq', r_min, 'toStreamSeq', r_max)::text);
  PERFORM pg_notify('logbook_sessions', n) FROM unnest(p_session_notices) AS n;

  IF p_updates IS NOT NULL THEN
    RETURN QUERY SELECT s.id, s.project_id FROM sessions s
      JOIN jsonb_to_recordset(p_updates) AS x(id uuid, project_path text) ON s.id = x.id
      WHERE x.project_path IS NOT NULL;
  END IF;
END
$fn$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE events ADD COLUMN replaced_characters integer NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN replaced_characters integer NOT NULL DEFAULT 0;
  `);
  await knex.raw("DROP FUNCTION logbook_ingest_group");
  await knex.raw(CREATE);
}

export async function down(knex: Knex): Promise<void> {
  // The previous migration's `up` drops this definition and makes its own.
  await createPreviousFunction(knex);
  await knex.raw(`
    ALTER TABLE sessions DROP COLUMN replaced_characters;
    ALTER TABLE events DROP COLUMN replaced_characters;
  `);
}
