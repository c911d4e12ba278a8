import type { Event, ExportFormat, ExportSessionInput, Session, SessionExport } from "@logbook/contracts";
import { SessionModel, type Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { notFound } from "../errors.js";
import { EVENT_COLUMNS, toEventDto, type EventRow } from "../events/event-dto.js";
import { SESSION_COLUMNS, toSessionDto } from "./session-dto.js";

/** Events read per statement: a long session is read in pages, not in one result. */
const PAGE = 2_000;
/** Characters of a tool result the Markdown shows; the JSON and JSONL exports keep everything. */
const RESULT_CHARS = 4_000;

const MEDIA_TYPES: Record<ExportFormat, string> = {
  md: "text/markdown; charset=utf-8",
  json: "application/json",
  jsonl: "application/x-ndjson",
};

interface Part {
  session: Session;
  depth: number;
  events: Event[];
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A session with its subagents as a file (issue 16): Markdown to read, JSON to process,
 * the original JSONL lines to import again. Built from what is stored: transcript lines
 * are kept whole in `payload`, so the JSONL lines are those lines, re-serialised (jsonb
 * keeps values, not key order or spacing).
 */
export class ExportService {
  private readonly knex: Knex;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
  }

  async session(input: ExportSessionInput): Promise<SessionExport> {
    const parts = await this.readTree(input.id);
    const root = parts[0]?.session;
    if (!root) throw notFound("session", input.id);
    const events = parts.reduce((n, p) => n + p.events.length, 0);
    const name = (root.externalId ?? root.id).replace(/[^A-Za-z0-9._-]/g, "_");
    const base = { fileName: `${name}.${input.format}`, mediaType: MEDIA_TYPES[input.format], sessions: parts.length };
    switch (input.format) {
      case "json":
        return { ...base, events, content: `${JSON.stringify({ version: 1, sessions: parts }, null, 2)}\n` };
      case "jsonl": {
        const lines = parts.flatMap((p) =>
          p.events.filter((e) => e.source === "transcript").map((e) => JSON.stringify(e.payload)),
        );
        return { ...base, events: lines.length, content: lines.map((line) => `${line}\n`).join("") };
      }
      case "md":
        return { ...base, events, content: markdown(parts) };
    }
  }

  /** The session, then its subagents depth first (oldest first), each with its events in order. */
  private async readTree(id: string): Promise<Part[]> {
    const result = await this.knex.raw<{ rows: Array<{ id: string; depth: number }> }>(
      `WITH RECURSIVE tree AS (
         SELECT id, 0 AS depth, ARRAY[created_at::text, id::text] AS path FROM sessions WHERE id = ?
         UNION ALL
         SELECT s.id, t.depth + 1, t.path || ARRAY[s.created_at::text, s.id::text]
         FROM sessions s JOIN tree t ON s.parent_session_id = t.id
       ) SELECT id, depth FROM tree ORDER BY path`,
      [id],
    );
    if (result.rows.length === 0) throw notFound("session", id);
    const rows = await SessionModel.query(this.knex)
      .select(SESSION_COLUMNS)
      .whereIn(
        "id",
        result.rows.map((r) => r.id),
      );
    const byId = new Map(rows.map((row) => [row.id, toSessionDto(row)]));
    const parts: Part[] = [];
    for (const { id: sessionId, depth } of result.rows) {
      const session = byId.get(sessionId);
      if (session) parts.push({ session, depth, events: await this.readEvents(sessionId) });
    }
    return parts;
  }

  private async readEvents(sessionId: string): Promise<Event[]> {
    const events: Event[] = [];
    for (let after = 0; ;) {
      const rows = (await this.knex("events")
        .select(EVENT_COLUMNS)
        .where("session_id", sessionId)
        .where("seq", ">", after)
        .orderBy("seq")
        .limit(PAGE)) as EventRow[];
      events.push(...rows.map(toEventDto));
      if (rows.length < PAGE) return events;
      after = Number(rows.at(-1)?.seq ?? after);
    }
  }
}

/** A code fence longer than any run of backticks in the text, so the text cannot close it. */
function fenced(text: string, language = ""): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${language}\n${text}\n${fence}`;
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n… (${text.length - max} more characters)`;
}

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((block) => (isObject(block) && typeof block.text === "string" ? block.text : JSON.stringify(block)))
      .join("\n");
  }
  return content === undefined ? "" : JSON.stringify(content, null, 2);
}

const heading = (who: string, event: Event) => `**${who}** · ${event.occurredAt}`;
const toolCall = (name: string, input: unknown) =>
  `**Tool: ${name}**\n\n${fenced(JSON.stringify(input ?? {}, null, 2), "json")}`;
const toolResult = (content: unknown, failed: boolean) =>
  `**${failed ? "Tool error" : "Result"}**\n\n${fenced(cut(resultText(content), RESULT_CHARS))}`;

/** One transcript line as Markdown blocks (empty for bookkeeping lines). */
function transcriptBlocks(event: Event): string[] {
  const line = event.payload;
  if (line.type === "summary" && typeof line.summary === "string") return [`*Summary: ${line.summary}*`];
  if (line.type === "system" && typeof line.content === "string") return [`*${line.content}*`];
  if ((line.type !== "user" && line.type !== "assistant") || !isObject(line.message)) return [];
  const who = line.type === "user" ? "User" : "Assistant";
  const content = line.message.content;
  if (typeof content === "string") return [`${heading(who, event)}\n\n${content}`];
  if (!Array.isArray(content)) return [];
  const blocks: string[] = [];
  for (const block of content.filter(isObject)) {
    if (block.type === "text" && typeof block.text === "string") blocks.push(`${heading(who, event)}\n\n${block.text}`);
    else if (block.type === "tool_use") blocks.push(toolCall(String(block.name), block.input));
    else if (block.type === "tool_result") blocks.push(toolResult(block.content, block.is_error === true));
  }
  return blocks;
}

/** A hook or API event as Markdown blocks, for sessions that have no transcript lines. */
function hookBlocks(event: Event): string[] {
  const p = event.payload;
  switch (event.eventType) {
    case "UserPromptSubmit":
      return typeof p.prompt === "string" ? [`${heading("User", event)}\n\n${p.prompt}`] : [];
    case "PreToolUse":
      return typeof p.tool_name === "string" ? [toolCall(p.tool_name, p.tool_input)] : [];
    case "PostToolUse":
    case "PostToolUseFailure":
      return [toolResult(p.tool_response ?? p.error, event.eventType === "PostToolUseFailure")];
    case "Stop":
    case "SubagentStop":
      return typeof p.last_assistant_message === "string"
        ? [`${heading("Assistant", event)}\n\n${p.last_assistant_message}`]
        : [];
    default:
      return event.source === "api" && event.message ? [`*${event.eventType}: ${event.message}*`] : [];
  }
}

function about(session: Session): string[] {
  const facts: Array<[string, string | null | undefined]> = [
    ["Session", `\`${session.externalId ?? session.id}\` (Logbook id \`${session.id}\`)`],
    ["Agent", session.agentType],
    ["Status", session.status],
    ["Working directory", session.cwd ? `\`${session.cwd}\`` : null],
    ["Model", session.model],
    ["Started", session.startedAt ?? session.createdAt],
    ["Ended", session.endedAt],
  ];
  return facts.filter(([, value]) => value).map(([name, value]) => `- ${name}: ${value}`);
}

function markdown(parts: Part[]): string {
  const out: string[] = [];
  for (const [index, { session, depth, events }] of parts.entries()) {
    const title =
      session.title ?? session.initialQuery?.split("\n")[0]?.slice(0, 120) ?? session.externalId ?? session.id;
    out.push(index === 0 ? `# ${title}` : `${"#".repeat(Math.min(2 + depth - 1, 6))} Subagent: ${title}`);
    out.push(about(session).join("\n"));
    // A session with transcript lines is told from them; the hooks say the same things again.
    const fromTranscript = events.some((e) => e.source === "transcript");
    for (const event of events) {
      if (fromTranscript ? event.source !== "transcript" : event.source === "transcript") continue;
      out.push(...(fromTranscript ? transcriptBlocks(event) : hookBlocks(event)));
    }
  }
  return `${out.join("\n\n")}\n`;
}
