import type { Event, ExportFormat, ExportSessionInput, Session, SessionExport } from "@logbook/contracts";
import { SessionModel, type Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { EVENT_COLUMNS, toEventDto, type EventRow } from "../events/event-dto.js";
import { SESSION_COLUMNS, toSessionDto } from "./session-dto.js";

/**
 * Events read per statement. A page is what the export holds in memory at a time (with what
 * the socket has not taken yet), whatever the session's length.
 */
const PAGE = 250;
/** Characters of a tool result the Markdown shows; the JSON and JSONL exports keep everything. */
const RESULT_CHARS = 4_000;
/**
 * The largest export `sessions.export` answers in one JSON value (characters). Above it the
 * file is only downloaded (`GET /export/sessions/<id>`), which streams it: an answer held
 * whole costs the server several times its size in memory (a 44 MB session's JSON took the
 * server from 142 to 504 MB), and past ~512 M characters it cannot be built at all.
 */
export const INLINE_EXPORT_MAX_CHARS = 16 * 1024 * 1024;

const MEDIA_TYPES: Record<ExportFormat, string> = {
  md: "text/markdown; charset=utf-8",
  json: "application/json",
  jsonl: "application/x-ndjson",
};

/** One session of the exported tree, with what it holds as of the export's start. */
interface Part {
  session: Session;
  depth: number;
  /** Its events up to this seq are exported; later ones (a live session) are not. */
  lastSeq: number;
  events: number;
  transcriptLines: number;
}

/**
 * An export as it is written: its name and size known up front, the file itself in pieces
 * read from the database a page at a time as they are taken (`chunks`, once).
 */
export interface ExportFile {
  fileName: string;
  mediaType: string;
  /** The session and its subagents. */
  sessions: number;
  /** Events in the file (for `jsonl`: transcript lines). */
  events: number;
  chunks: AsyncIterable<string>;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A session with its subagents as a file (issue 16): Markdown to read, JSON to process,
 * the original JSONL lines to import again. Built from what is stored: transcript lines
 * are kept whole in `payload`, so the JSONL lines are those lines, re-serialised (jsonb
 * keeps values, not key order or spacing). The file is what the sessions held when the
 * export began: events stored meanwhile are left out, so its counts are exact.
 */
export class ExportService {
  private readonly knex: Knex;

  constructor(deps: CoreDeps) {
    this.knex = deps.knex;
  }

  /** The export as one value, for the API's `sessions.export`: ANSWER_TOO_LARGE past `maxChars`. */
  async session(input: ExportSessionInput, maxChars = INLINE_EXPORT_MAX_CHARS): Promise<SessionExport> {
    const file = await this.open(input);
    const pieces: string[] = [];
    let length = 0;
    for await (const piece of file.chunks) {
      length += piece.length;
      if (length > maxChars) {
        throw new AppError(
          "ANSWER_TOO_LARGE",
          `this export is over ${Math.floor(maxChars / 1024 / 1024)} MiB, too large to answer in one value: download it from GET /export/sessions/${input.id}?format=${input.format} (what \`logbook export\` does)`,
          { details: { maxChars, path: `/export/sessions/${input.id}?format=${input.format}` } },
        );
      }
      pieces.push(piece);
    }
    const { fileName, mediaType, sessions, events } = file;
    return { fileName, mediaType, sessions, events, content: pieces.join("") };
  }

  /** The export as a stream: NOT_FOUND before anything is written for a session that does not exist. */
  async open(input: ExportSessionInput): Promise<ExportFile> {
    const parts = await this.readTree(input.id);
    const root = parts[0]?.session;
    if (!root) throw notFound("session", input.id);
    const name = (root.externalId ?? root.id).replace(/[^A-Za-z0-9._-]/g, "_");
    const count = (key: "events" | "transcriptLines") => parts.reduce((n, p) => n + p[key], 0);
    const file = { fileName: `${name}.${input.format}`, mediaType: MEDIA_TYPES[input.format], sessions: parts.length };
    switch (input.format) {
      case "json":
        return { ...file, events: count("events"), chunks: this.json(parts) };
      case "jsonl":
        return { ...file, events: count("transcriptLines"), chunks: this.jsonl(parts) };
      case "md":
        return { ...file, events: count("events"), chunks: this.markdown(parts) };
    }
  }

  /** The session, then its subagents depth first (oldest first), with their sizes as of now. */
  private async readTree(id: string): Promise<Part[]> {
    const result = await this.knex.raw<{ rows: Array<{ id: string; depth: number; last_seq: string }> }>(
      `WITH RECURSIVE tree AS (
         SELECT id, 0 AS depth, ARRAY[created_at::text, id::text] AS path, last_event_seq FROM sessions WHERE id = ?
         UNION ALL
         SELECT s.id, t.depth + 1, t.path || ARRAY[s.created_at::text, s.id::text], s.last_event_seq
         FROM sessions s JOIN tree t ON s.parent_session_id = t.id
       ) SELECT id, depth, last_event_seq AS last_seq FROM tree ORDER BY path`,
      [id],
    );
    if (result.rows.length === 0) throw notFound("session", id);
    const ids = result.rows.map((r) => r.id);
    const lastSeqs = result.rows.map((r) => r.last_seq);
    const rows = await SessionModel.query(this.knex).select(SESSION_COLUMNS).whereIn("id", ids);
    // Counted up to each session's seq as read above, which the pages below stop at too.
    const counts = await this.knex.raw<{ rows: Array<{ session_id: string; events: string; lines: string }> }>(
      `SELECT e.session_id, count(*) AS events, count(*) FILTER (WHERE e.source = 'transcript') AS lines
         FROM unnest(?::uuid[], ?::bigint[]) AS b(id, last_seq)
         JOIN events e ON e.session_id = b.id AND e.seq <= b.last_seq
        GROUP BY e.session_id`,
      [ids, lastSeqs],
    );
    const byId = new Map(rows.map((row) => [row.id, toSessionDto(row)]));
    const countsById = new Map(counts.rows.map((row) => [row.session_id, row]));
    const parts: Part[] = [];
    for (const { id: sessionId, depth, last_seq } of result.rows) {
      const session = byId.get(sessionId);
      const counted = countsById.get(sessionId);
      if (!session) continue; // deleted between the two reads
      parts.push({
        session,
        depth,
        lastSeq: Number(last_seq),
        events: Number(counted?.events ?? 0),
        transcriptLines: Number(counted?.lines ?? 0),
      });
    }
    return parts;
  }

  /** A part's events in seq order, a page at a time; only transcript lines with `transcriptOnly`. */
  private async *pages(part: Part, transcriptOnly = false): AsyncGenerator<Event[]> {
    for (let after = 0; ;) {
      const query = this.knex("events")
        .select(EVENT_COLUMNS)
        .where("session_id", part.session.id)
        .where("seq", ">", after)
        .where("seq", "<=", part.lastSeq);
      if (transcriptOnly) query.where("source", "transcript");
      const rows = (await query.orderBy("seq").limit(PAGE)) as EventRow[];
      if (rows.length > 0) yield rows.map(toEventDto);
      if (rows.length < PAGE) return;
      after = Number(rows.at(-1)?.seq ?? after);
    }
  }

  /**
   * Exactly `JSON.stringify({ version: 1, sessions }, null, 2)` of the tree with its events,
   * written a page at a time: each value is stringified alone and indented to its depth
   * (JSON text has no raw newline inside a string, so indenting after each is safe).
   */
  private async *json(parts: Part[]): AsyncGenerator<string> {
    const at = (text: string, depth: number) => text.replaceAll("\n", `\n${" ".repeat(depth)}`);
    yield '{\n  "version": 1,\n  "sessions": [';
    for (const [index, part] of parts.entries()) {
      const session = at(JSON.stringify(part.session, null, 2), 6);
      yield `${index === 0 ? "" : ","}\n    {\n      "session": ${session},\n      "depth": ${part.depth},\n      "events": [`;
      let written = 0;
      for await (const events of this.pages(part)) {
        yield events
          .map((e, i) => `${written + i === 0 ? "" : ","}\n        ${at(JSON.stringify(e, null, 2), 8)}`)
          .join("");
        written += events.length;
      }
      yield written === 0 ? "]\n    }" : "\n      ]\n    }";
    }
    yield "\n  ]\n}\n";
  }

  /** The transcript lines, the session's then its subagents', one JSON value a line. */
  private async *jsonl(parts: Part[]): AsyncGenerator<string> {
    for (const part of parts) {
      for await (const events of this.pages(part, true)) {
        yield events.map((e) => `${JSON.stringify(e.payload)}\n`).join("");
      }
    }
  }

  /** The conversation: blocks apart by a blank line, the file ending with a newline. */
  private async *markdown(parts: Part[]): AsyncGenerator<string> {
    for (const [index, part] of parts.entries()) {
      const { session, depth } = part;
      const title =
        session.title ?? session.initialQuery?.split("\n")[0]?.slice(0, 120) ?? session.externalId ?? session.id;
      const headline = index === 0 ? `# ${title}` : `${"#".repeat(Math.min(2 + depth - 1, 6))} Subagent: ${title}`;
      yield `${index === 0 ? "" : "\n\n"}${headline}\n\n${about(session).join("\n")}`;
      // A session with transcript lines is told from them; the hooks say the same things again.
      const fromTranscript = part.transcriptLines > 0;
      // Stop can fire more than once for one reply: the same words right after themselves are shown once.
      let lastReply: string | undefined;
      for await (const events of this.pages(part)) {
        const blocks = events.flatMap((event) => {
          if (fromTranscript ? event.source !== "transcript" : event.source === "transcript") return [];
          if (fromTranscript) return transcriptBlocks(event);
          const reply = hookReply(event);
          if (reply !== undefined && reply === lastReply) return [];
          const shown = hookBlocks(event);
          if (shown.length > 0) lastReply = reply;
          return shown;
        });
        if (blocks.length > 0) yield blocks.map((block) => `\n\n${block}`).join("");
      }
    }
    yield "\n";
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

/** What a Stop or SubagentStop hook says the agent replied, if it says. */
function hookReply(event: Event): string | undefined {
  const said = event.payload.last_assistant_message;
  return (event.eventType === "Stop" || event.eventType === "SubagentStop") && typeof said === "string"
    ? said
    : undefined;
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
    case "SubagentStop": {
      const reply = hookReply(event);
      return reply === undefined ? [] : [`${heading("Assistant", event)}\n\n${reply}`];
    }
    case "StopFailure": {
      // The turn ended on an API error instead of a reply: a reader should not wait for one.
      const why = typeof p.error === "string" && p.error !== "" ? p.error : "an error";
      const details = typeof p.error_details === "string" && p.error_details !== "" ? ` (${p.error_details})` : "";
      return [`*Turn failed: ${why}${details}*`];
    }
    case "PostCompact":
      // What the conversation was cut down to: the agent goes on from this text.
      return typeof p.compact_summary === "string" && p.compact_summary.trim() !== ""
        ? [`${heading("Compaction summary", event)}\n\n${p.compact_summary}`]
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
    // What the text below lost on its way in, so a reader does not take it for what was sent.
    ["Secrets redacted", session.redactions > 0 ? String(session.redactions) : null],
    [
      "Characters stored as U+FFFD (NUL, lone surrogates)",
      session.replacedCharacters > 0 ? String(session.replacedCharacters) : null,
    ],
  ];
  return facts.filter(([, value]) => value).map(([name, value]) => `- ${name}: ${value}`);
}
