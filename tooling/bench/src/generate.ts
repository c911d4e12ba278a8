import { randomUUID } from "node:crypto";

import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

import { pick, words } from "./payloads.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

/** COPY text format: backslash, tab, newline and carriage return must be escaped; NULL is \N. */
export function copyText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return "\\N";
  const text = String(value);
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) => expectDefined({ "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" }[c]))
    : text;
}

const row = (values: Array<string | number | boolean | null | undefined>) => values.map(copyText).join("\t") + "\n";

/**
 * Streams rows into `COPY table (columns) FROM STDIN`, respecting back-pressure.
 * Rows are joined into ~256 KB writes: one write per row costs more than the COPY itself.
 */
export async function copyRows(
  client: pg.Client,
  table: string,
  columns: readonly string[],
  rows: Iterable<string>,
): Promise<number> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`));
  const done = new Promise<void>((resolve, reject) => {
    stream.on("finish", resolve);
    stream.on("error", reject);
  });
  let count = 0;
  let buffer = "";
  for (const line of rows) {
    buffer += line;
    count++;
    if (buffer.length >= 256 * 1024) {
      if (!stream.write(buffer)) await new Promise((resolve) => stream.once("drain", resolve));
      buffer = "";
    }
  }
  stream.end(buffer);
  await done;
  return count;
}

/** A UUIDv7 (time-ordered, as clients make them) from a time and the seeded random source. */
export function uuidV7At(ms: number, random: () => number): string {
  const hex = (n: number, width: number) => Math.floor(n).toString(16).padStart(width, "0");
  const time = hex(ms, 12);
  const r = () => hex(random() * 0x10000, 4);
  const variant = (0x8000 | Math.floor(random() * 0x4000)).toString(16);
  return `${time.slice(0, 8)}-${time.slice(8)}-7${r().slice(1)}-${variant}-${r()}${r()}${r()}`;
}

export const EVENT_COPY_COLUMNS = [
  "id",
  "session_id",
  "seq",
  "event_type",
  "source",
  "level",
  "message",
  "tool_name",
  "tool_use_id",
  "agent_id",
  "cwd",
  "machine_id",
  "payload",
  "occurred_at",
] as const;

export interface GeneratedSession {
  id: string;
  externalId: string;
  parentId: string | null;
  events: number;
  status: string;
  machineId: string;
  projectId: string;
  agentType: string | null;
  startMs: number;
}

interface DatasetOptions {
  sessions: number;
  events: number;
  /** Sessions that ended this long ago (retention candidates); 0 = recent activity. */
  ageDays?: number;
}

export interface Dataset {
  sessions: GeneratedSession[];
  events: number;
  machines: string[];
  projects: string[];
  labels: string[];
}

export const MACHINES = Array.from({ length: 20 }, (_, i) => `dev-machine-${i + 1}`);
export const LABELS = ["bugfix", "feature", "refactor", "spike", "release"];
const AGENT_TYPES = ["general-purpose", "Explore", "code-reviewer", "test-runner"];
const LIVE = ["active", "idle", "waiting_input"];
const FINISHED = ["completed", "completed", "completed", "completed", "failed", "cancelled"];

/** Creates `count` projects and returns their ids. */
export async function createProjects(client: pg.Client, count: number, seed: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await copyRows(
    client,
    "projects",
    ["id", "path", "name"],
    ids.map((id, i) => row([id, `/work/repo-${seed}-${i}`, `repo-${seed}-${i}`])),
  );
  return ids;
}

/**
 * The session trees of a data set (roots, about a third of the sessions subagents under
 * them, 0–3 per root) and each session's event count: a long tail, one in ten sessions
 * eight times busier than the rest, at least one event each. Session ids ascend along the
 * list, so writing sessions and their events in this order appends to the primary keys.
 * The events themselves are made inside PostgreSQL (dataset-sql.ts).
 */
export function planSessions(
  random: () => number,
  options: Pick<DatasetOptions, "sessions" | "events" | "ageDays"> & { projects: string[] },
): GeneratedSession[] {
  const projects = options.projects;
  const now = Date.now();
  const ageMs = (options.ageDays ?? 0) * 86_400_000;
  // The tree: roots first, each followed by 0-3 subagents, until `sessions` are made.
  const sessions: GeneratedSession[] = [];
  while (sessions.length < options.sessions) {
    const machineId = pick(random, MACHINES);
    const projectId = pick(random, projects);
    const old = ageMs > 0;
    const root: GeneratedSession = {
      id: "",
      externalId: randomUUID(),
      parentId: null,
      events: 0,
      status: old ? "completed" : random() < 0.25 ? pick(random, LIVE) : pick(random, FINISHED),
      machineId,
      projectId,
      agentType: null,
      startMs: now - ageMs - 3_600_000 - random() * 30 * 86_400_000,
    };
    sessions.push(root);
    const children = Math.min(options.sessions - sessions.length, random() < 0.5 ? 0 : 1 + Math.floor(random() * 3));
    for (let c = 0; c < children; c++) {
      sessions.push({
        ...root,
        externalId: `${root.externalId}:agent:${c + 1}`,
        parentId: root.externalId, // resolved to the parent's id below
        status: old ? "completed" : pick(random, FINISHED),
        agentType: pick(random, AGENT_TYPES),
        startMs: root.startMs + 60_000 * (1 + c),
      });
    }
  }
  // Ids in ascending order along the emission order (see above).
  const ids = Array.from({ length: sessions.length }, () => randomUUID()).sort();
  const byExternal = new Map<string, GeneratedSession>();
  sessions.forEach((s, i) => {
    s.id = expectDefined(ids[i]);
    byExternal.set(s.externalId, s);
  });
  for (const s of sessions) if (s.parentId) s.parentId = expectDefined(byExternal.get(s.parentId)).id;

  // Events per session: a long tail (one in ten sessions is eight times busier), at least one each.
  const weights = sessions.map(() => (random() < 0.1 ? 8 : 1) * (0.5 + random()));
  const total = weights.reduce((a, b) => a + b, 0);
  let assigned = 0;
  sessions.forEach((s, i) => {
    s.events = Math.max(1, Math.floor((options.events * expectDefined(weights[i])) / total));
    assigned += s.events;
  });
  for (let i = 0; assigned < options.events; i = (i + 1) % sessions.length, assigned++)
    expectDefined(sessions[i]).events++;

  return sessions;
}

/** Writes the planned sessions (COPY), with `last_event_seq` = their event count. */
export async function copySessions(
  client: pg.Client,
  random: () => number,
  sessions: GeneratedSession[],
): Promise<void> {
  const sessionColumns = [
    "id",
    "external_id",
    "parent_session_id",
    "project_id",
    "status",
    "status_changed_at",
    "session_type",
    "title",
    "label",
    "initial_query",
    "cwd",
    "machine_id",
    "agent_id",
    "agent_type",
    "model",
    "is_working",
    "pinned",
    "hidden",
    "is_user_initiated",
    "input_tokens",
    "output_tokens",
    "last_event_seq",
    "created_at",
    "started_at",
    "last_activity_at",
    "ended_at",
  ];
  const iso = (ms: number) => new Date(ms).toISOString();
  await copyRows(
    client,
    "sessions",
    sessionColumns,
    (function* () {
      for (const s of sessions) {
        const end = s.startMs + s.events * 12_000;
        const finished = !LIVE.includes(s.status);
        yield row([
          s.id,
          s.externalId,
          s.parentId,
          s.projectId,
          s.status,
          iso(end),
          s.parentId ? "subagent" : "agent",
          s.parentId ? null : words(random, 5),
          random() < 0.1 ? pick(random, LABELS) : null,
          s.parentId ? null : words(random, 10),
          `/work/repo-${s.projectId.slice(0, 4)}`,
          s.machineId,
          s.parentId ? s.externalId.split(":agent:")[1] : null,
          s.agentType,
          "claude-sonnet-4-5",
          s.status === "active",
          random() < 0.02,
          random() < 0.03,
          s.parentId === null,
          Math.floor(random() * 200_000),
          Math.floor(random() * 50_000),
          s.events,
          iso(s.startMs),
          iso(s.startMs),
          iso(end),
          finished ? iso(end) : null,
        ]);
      }
    })(),
  );
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: "logbook-bench" });
  await client.connect();
  return client;
}

export { row as copyRow };
