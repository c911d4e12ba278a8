import type { Knex } from "knex";

/**
 * `logbook_ingest_group(…)`: the ingest of a group of events whose sessions the server
 * already knows, in ONE call (issue 15: a lone hook post paid five round trips — BEGIN,
 * session upsert, seq + insert, session update + notify, COMMIT). Called as a single
 * autocommit statement, so it is its own transaction.
 *
 * The server derives the new session state in memory from the state it expects each
 * session to be in (what its last ingest left) and sends both. The function locks the
 * sessions in one order (so concurrent groups cannot deadlock), and checks that each still
 * holds the expected state (the columns derivation reads; timestamps compared at the
 * millisecond precision the server reads them with). Any difference — another writer,
 * another replica, a deleted session — or an event already stored (a retry) raises
 * SQLSTATE LB001 and nothing of the group is kept: the server then runs its ordinary
 * ingest, which reads the state under lock. So what is derived is exactly what that path
 * derives from the same state and events.
 *
 * The steps are those of the ordinary path: seqs bumped and events inserted in the order
 * sent (stream positions in that order), messages tied to one event, the sessions' derived
 * columns (a column not named in a session's patch keeps its value), redaction counts, and
 * the live notifications (delivered on commit).
 */
const CREATE = `
CREATE FUNCTION logbook_ingest_group(
  p_sessions jsonb,
  p_ids uuid[], p_session_ids uuid[], p_places bigint[], p_event_types text[], p_sources text[], p_levels text[],
  p_messages text[], p_tool_names text[], p_tool_use_ids text[], p_parent_event_ids uuid[], p_parent_uuids text[],
  p_is_sidechain boolean[], p_agent_ids text[], p_cwds text[], p_machine_ids text[], p_occurred_at timestamptz[],
  p_redactions integer[], p_payloads jsonb,
  p_event_messages jsonb, p_updates jsonb, p_session_notices text[]
) RETURNS TABLE (id uuid, session_id uuid, occurred_at timestamptz, stream_seq bigint, seq bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  matched integer;
  r_ids uuid[];
  r_sessions uuid[];
  r_at timestamptz[];
  r_stream bigint[];
  r_seq bigint[];
BEGIN
  PERFORM 1 FROM sessions s
    WHERE s.id IN (SELECT (x ->> 'id')::uuid FROM jsonb_array_elements(p_sessions) AS x)
    ORDER BY s.id FOR NO KEY UPDATE;

  SELECT count(*) INTO matched
  FROM sessions s
  JOIN jsonb_to_recordset(p_sessions) AS e(id uuid, n integer, status text, status_changed_at timestamptz,
    started_at timestamptz, last_activity_at timestamptz, initial_query text, title text, cwd text, project_id uuid,
    parent_session_id uuid) ON s.id = e.id
  WHERE s.status = e.status
    AND date_trunc('milliseconds', s.status_changed_at) = e.status_changed_at
    AND date_trunc('milliseconds', s.started_at) IS NOT DISTINCT FROM e.started_at
    AND date_trunc('milliseconds', s.last_activity_at) = e.last_activity_at
    AND s.initial_query IS NOT DISTINCT FROM e.initial_query
    AND s.title IS NOT DISTINCT FROM e.title
    AND s.cwd IS NOT DISTINCT FROM e.cwd
    AND s.project_id IS NOT DISTINCT FROM e.project_id
    AND s.parent_session_id IS NOT DISTINCT FROM e.parent_session_id;
  IF matched <> jsonb_array_length(p_sessions) THEN
    RAISE EXCEPTION 'logbook_ingest_group: a session is not in the expected state' USING ERRCODE = 'LB001';
  END IF;

  WITH bumped AS (
    UPDATE sessions AS s SET last_event_seq = s.last_event_seq + v.n
    FROM jsonb_to_recordset(p_sessions) AS v(id uuid, n integer) WHERE s.id = v.id
    RETURNING s.id, s.last_event_seq - v.n AS base
  ), ins AS (
    INSERT INTO events (id, session_id, seq, event_type, source, level, message, tool_name, tool_use_id,
      parent_event_id, parent_uuid, is_sidechain, agent_id, cwd, machine_id, occurred_at, redactions, payload)
    SELECT t.id, t.session_id, b.base + t.place, t.event_type, t.source, t.level, t.message, t.tool_name,
      t.tool_use_id, t.parent_event_id, t.parent_uuid, t.is_sidechain, t.agent_id, t.cwd, t.machine_id,
      t.occurred_at, t.redactions, p_payloads -> (t.position::int - 1)
    FROM unnest(p_ids, p_session_ids, p_places, p_event_types, p_sources, p_levels, p_messages, p_tool_names,
      p_tool_use_ids, p_parent_event_ids, p_parent_uuids, p_is_sidechain, p_agent_ids, p_cwds, p_machine_ids,
      p_occurred_at, p_redactions)
      WITH ORDINALITY AS t(id, session_id, place, event_type, source, level, message, tool_name, tool_use_id,
        parent_event_id, parent_uuid, is_sidechain, agent_id, cwd, machine_id, occurred_at, redactions, position)
    JOIN bumped AS b ON b.id = t.session_id
    ORDER BY t.position
    ON CONFLICT DO NOTHING
    RETURNING events.id, events.session_id, events.occurred_at, events.stream_seq, events.seq
  )
  SELECT array_agg(ins.id), array_agg(ins.session_id), array_agg(ins.occurred_at), array_agg(ins.stream_seq),
    array_agg(ins.seq)
  INTO r_ids, r_sessions, r_at, r_stream, r_seq FROM ins;
  IF coalesce(cardinality(r_ids), 0) <> cardinality(p_ids) THEN
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
    UPDATE sessions AS s SET
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
      metadata = CASE WHEN x.m IS NULL THEN s.metadata ELSE s.metadata || x.m END,
      redactions = s.redactions + x.redactions
    FROM jsonb_to_recordset(p_updates) AS x(id uuid, p jsonb, m jsonb, redactions integer)
    WHERE s.id = x.id;
  END IF;

  PERFORM pg_notify('logbook_events', json_build_object('fromStreamSeq', min(s), 'toStreamSeq', max(s))::text)
    FROM unnest(r_stream) AS s;
  PERFORM pg_notify('logbook_sessions', n) FROM unnest(p_session_notices) AS n;

  RETURN QUERY SELECT * FROM unnest(r_ids, r_sessions, r_at, r_stream, r_seq);
END
$fn$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(CREATE);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP FUNCTION IF EXISTS logbook_ingest_group");
}
