/**
 * The SQL that makes a data set's events inside PostgreSQL (dataset.ts): no row crosses
 * the wire, so 10M events cost what PostgreSQL spends storing them (the generated search
 * column included), not a client's serialisation.
 *
 * Words follow Zipf's law over VOCABULARY_SIZE words (a word's frequency about 1 / its
 * rank): the first ranks (real words of a coding session, those the search case asks for)
 * are in most events, ranks in the hundreds in a few percent, the last in well under one
 * percent. Each event's text is one of TEXT_POOL texts of 60–260 words drawn that way,
 * plus three words drawn for the event alone.
 */

/** Words of the first ranks: the search case's common words are among them. */
const COMMON = (
  "the fix test build lint error type import function query table async promise cursor value return " +
  "session tool file read write edit run check export const await index event page update remove add " +
  "change module component server client request response config schema migration commit branch"
).split(" ");
const SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "gu", "ba", "fe", "hi", "jo"];
const TEXT_POOL = 4_096;

/** COMMON, then made-up words of two and three syllables (4,400 in all). */
export function vocabulary(): string[] {
  const made: string[] = [];
  for (const a of SYLLABLES) for (const b of SYLLABLES) made.push(`${a}${b}x`);
  for (const a of SYLLABLES) for (const b of SYLLABLES) for (const c of SYLLABLES) made.push(`${a}${b}${c}`);
  return [...COMMON, ...made];
}

/** A word's rank, 1..words-1, with P(k) ~ 1/k (Zipf's law). */
const zipfOf = (words: number) => `floor(exp(random() * ln(${words})))::int`;

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** `bench_vocab` (the words, one array) and `bench_text` (the pool of texts). */
export function setupTextSql(words: string[], seed: number): string {
  return `
    DROP TABLE IF EXISTS bench_vocab; DROP TABLE IF EXISTS bench_text; DROP TABLE IF EXISTS bench_word;
    SELECT setseed(${((seed % 1000) / 1000).toFixed(3)});
    CREATE UNLOGGED TABLE bench_vocab AS SELECT ARRAY[${words.map(literal).join(",")}]::text[] AS w;
    CREATE UNLOGGED TABLE bench_word AS SELECT u.k::int AS k, u.word AS w FROM bench_vocab v, unnest(v.w) WITH ORDINALITY AS u(word, k);
    ALTER TABLE bench_word ADD PRIMARY KEY (k);
    -- floor(exp(random() * ln(n))) is 1..n-1 with P(k) ~ 1/k: Zipf's law.
    CREATE UNLOGGED TABLE bench_text AS
      SELECT i, (SELECT string_agg(bw.w, ' ')
                   FROM (SELECT ${zipfOf(words.length)} + 0 * g AS k FROM generate_series(1, 60 + (i * 37) % 200) AS g) AS d
                   JOIN bench_word bw ON bw.k = d.k) AS body
        FROM generate_series(0, ${TEXT_POOL - 1}) AS i;
    ALTER TABLE bench_text ADD PRIMARY KEY (i);
    ANALYZE bench_text; ANALYZE bench_word;`;
}

const TOOLS = ["Bash", "Bash", "Bash", "Read", "Edit", "Grep", "Write", "Glob"];

/**
 * The events of the sessions of `bench_plan` with $1 <= sidx < $2: seq 1..n, SessionStart
 * first and SessionEnd (SubagentStop for a subagent) last, between them prompts (8%), tool
 * calls before (37%) and after (37%), notifications (6%) and stops; times 12 s apart
 * minus up to 10 s, so increasing within a session and within its `last_activity_at`;
 * payloads shaped like Claude Code's hooks (tool responses and prompts carry the text);
 * `message` the timeline text ingest would make ("Bash: pnpm test …", a prompt's head).
 */
export function eventsInsertSql(words: number): string {
  const zipf = zipfOf(words);
  return `
    INSERT INTO events (id, session_id, seq, event_type, source, level, message, tool_name, tool_use_id,
                        agent_id, cwd, machine_id, payload, occurred_at)
    SELECT gen_random_uuid(), x.session_id, x.seq, x.event_type, 'hook', 'info',
      CASE x.event_type
        WHEN 'UserPromptSubmit' THEN left(x.body, 160)
        WHEN 'PreToolUse' THEN left(x.tool || ': ' || x.target, 160)
        WHEN 'PostToolUse' THEN left(x.tool || ': ' || x.target, 160)
        WHEN 'Notification' THEN 'Claude needs your permission to use ' || x.tool
      END,
      CASE WHEN x.tool_call THEN x.tool END,
      CASE WHEN x.tool_call THEN x.tool_use_id END,
      x.agent_id, x.cwd, x.machine_id,
      jsonb_build_object('session_id', x.root_external, 'transcript_path', x.cwd || '/transcript.jsonl',
                         'cwd', x.cwd, 'hook_event_name', x.event_type)
        || CASE WHEN x.agent_id IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('agent_id', x.agent_id, 'agent_type', x.agent_type) END
        || CASE x.event_type
             WHEN 'SessionStart' THEN jsonb_build_object('source', 'startup', 'model', 'claude-sonnet-4-5')
             WHEN 'UserPromptSubmit' THEN jsonb_build_object('permission_mode', 'default', 'prompt', x.body)
             WHEN 'PreToolUse' THEN jsonb_build_object('permission_mode', 'default', 'tool_name', x.tool,
               'tool_use_id', x.tool_use_id, 'tool_input', x.input || jsonb_build_object('description', left(x.body, 120)))
             WHEN 'PostToolUse' THEN jsonb_build_object('permission_mode', 'default', 'tool_name', x.tool,
               'tool_use_id', x.tool_use_id, 'tool_input', x.input,
               'tool_response', jsonb_build_object('type', 'text', 'content', x.body))
             WHEN 'Notification' THEN jsonb_build_object('message', 'Claude needs your permission to use ' || x.tool)
             WHEN 'SessionEnd' THEN jsonb_build_object('reason', 'prompt_input_exit')
             ELSE jsonb_build_object('stop_hook_active', false)
           END,
      x.at
    FROM (
      SELECT y.*, y.event_type IN ('PreToolUse', 'PostToolUse') AS tool_call,
        CASE WHEN y.tool = 'Bash' THEN jsonb_build_object('command', y.target) ELSE jsonb_build_object('file_path', y.target) END AS input
      FROM (
        SELECT p.session_id, p.agent_id, p.agent_type, p.root_external, p.cwd, p.machine_id, g.seq,
          p.start_at + make_interval(secs => g.seq * 12 - r.jitter * 10) AS at,
          CASE WHEN g.seq = 1 THEN 'SessionStart'
               WHEN g.seq = p.n AND p.n > 2 THEN CASE WHEN p.agent_id IS NULL THEN 'SessionEnd' ELSE 'SubagentStop' END
               WHEN r.kind < 0.08 THEN 'UserPromptSubmit'
               WHEN r.kind < 0.45 THEN 'PreToolUse'
               WHEN r.kind < 0.82 THEN 'PostToolUse'
               WHEN r.kind < 0.88 THEN 'Notification'
               ELSE 'Stop' END AS event_type,
          r.tool,
          'toolu_' || substr(md5(p.session_id::text || g.seq), 1, 24) AS tool_use_id,
          CASE WHEN r.tool = 'Bash' THEN 'pnpm ' || w1.w || ' --filter ' || w2.w
               ELSE p.cwd || '/src/' || w1.w || '/' || w2.w || '.ts' END AS target,
          t.body || ' ' || w1.w || ' ' || w2.w || ' ' || w3.w AS body
        FROM bench_plan p
        CROSS JOIN LATERAL generate_series(1, p.n) AS g(seq)
        CROSS JOIN LATERAL (
          -- Volatile, so evaluated once per event (the reference to g.seq keeps it per row).
          SELECT random() AS kind, random() AS jitter, floor(random() * ${TEXT_POOL})::int + 0 * g.seq AS text_i,
                 (ARRAY[${TOOLS.map(literal).join(",")}])[1 + floor(random() * ${TOOLS.length})::int] AS tool,
                 ${zipf} AS k1, ${zipf} AS k2, ${zipf} AS k3
        ) AS r
        JOIN bench_text t ON t.i = r.text_i
        JOIN bench_word w1 ON w1.k = r.k1
        JOIN bench_word w2 ON w2.k = r.k2
        JOIN bench_word w3 ON w3.k = r.k3
        WHERE p.sidx >= $1 AND p.sidx < $2
      ) AS y
    ) AS x`;
}
