import { createReadStream } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";

import type { IngestEvent } from "@logbook/contracts";

import { isUuidShaped } from "./ids.js";
import { uuidFromName } from "./name-uuid.js";
import { EVENT_LEVELS, LIMITS, subagentExternalId } from "./wire.js";

/**
 * Turns a Claude Code transcript file into the events the importer sends, one per line, in
 * file order, streaming (a line at a time). Everything here is deterministic: importing the
 * same file again yields the same ids, sessions and times, which is what lets the server
 * recognise every line it already has.
 *
 * - id: the line's `uuid` (any 8-4-4-4-12 hex, RFC 9562 or not: PostgreSQL takes them all,
 *   and `parentUuid` links need the line's own id); lines without one get a name-based UUID
 *   of (session, content, how many identical uuid-less lines came before in the file).
 * - occurredAt: the line's `timestamp`; else the previous line's; lines before the first
 *   timestamp take the first one; a file without any gets the Unix epoch (stable, if odd).
 * - session: the line's `sessionId`. Lines without one (summaries, file-history snapshots,
 *   bookkeeping) belong to the file's other lines: the session of the last line before them
 *   that names one, else of the first line in the file that does; the file's name only when
 *   no line names a session (a copied or renamed file must not become a session of its
 *   own). Subagent files
 *   (`<session>/subagents/agent-<id>.jsonl`) and sidechain lines with an `agentId` go to the
 *   child session `subagentExternalId(session, agentId)`; inline sidechains without one are
 *   grouped by the root of their chain: `subagentExternalId(session, "sidechain-<root8>")`.
 * - agentType of a subagent's events: the `subagent_type` of the parent's Task call whose
 *   `prompt` is what the subagent's first line says. Claude Code
 *   writes no type into a subagent's own lines, and its result's `agentId` link comes only
 *   once the subagent is done, after its lines; the prompt is there from the start. Two
 *   calls with the same prompt and different types leave it unknown, as does a subagent
 *   that no call started (context compaction's `agent-acompact-*`).
 */

export interface TranscriptFile {
  path: string;
  /** The session named by the file: `<session>.jsonl`, or the folder above `subagents/`. */
  sessionId: string;
  /** Set for `<session>/subagents/agent-<agentId>.jsonl`. */
  agentId?: string;
  /** For a subagent file: `<session>.jsonl` beside the `<session>` folder, its parent's file. */
  parentPath?: string;
}

/**
 * A planned line. `payloadText` is the line exactly as in the file (the event's payload): it is
 * what is sent, not `JSON.stringify(event.payload)`, which would turn a number JavaScript cannot
 * hold (`1e400`, `12345678901234567890`) into null or another number without a word. Sent as
 * written, the server keeps it or refuses the line naming the number (apps/server exact-numbers).
 */
export type PlanItem = PlannedEvent | { kind: "error"; line: number; message: string };
export interface PlannedEvent {
  kind: "event";
  line: number;
  event: IngestEvent;
  payloadText: string;
}

const SUBAGENT_FILE = /^agent-(.+)\.jsonl$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;
const EPOCH = "1970-01-01T00:00:00.000Z";
const LEVELS = new Set<string>(EVENT_LEVELS);

export function transcriptFileOf(path: string): TranscriptFile {
  const name = basename(path);
  const agentId = SUBAGENT_FILE.exec(name)?.[1];
  const parent = dirname(path);
  if (agentId !== undefined && basename(parent) === "subagents") {
    const sessionFolder = dirname(parent);
    const sessionId = basename(sessionFolder);
    return { path, sessionId, agentId, parentPath: join(dirname(sessionFolder), `${sessionId}.jsonl`) };
  }
  return { path, sessionId: name.replace(/\.jsonl$/, "") };
}

function timestampOf(value: unknown): string | undefined {
  if (typeof value !== "string" || !ISO_WITH_ZONE.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** A text field the server takes (at most `max` characters, no NUL), or undefined. */
function field(value: unknown, max: number = LIMITS.shortText): string | undefined {
  return typeof value === "string" && value !== "" && value.length <= max && !value.includes("\u0000")
    ? value
    : undefined;
}

function toolOf(line: Record<string, unknown>): { toolName?: string; toolUseId?: string } {
  const message = line.message as { content?: unknown } | undefined;
  if (message && Array.isArray(message.content)) {
    for (const block of message.content as Array<Record<string, unknown> | null>) {
      if (block?.type === "tool_use") {
        const toolName = field(block.name);
        const toolUseId = field(block.id);
        return { ...(toolName ? { toolName } : {}), ...(toolUseId ? { toolUseId } : {}) };
      }
      if (block?.type === "tool_result") {
        const toolUseId = field(block.tool_use_id);
        return toolUseId ? { toolUseId } : {};
      }
    }
  }
  const toolUseId = field(line.toolUseID);
  return toolUseId ? { toolUseId } : {};
}

interface PendingLine {
  line: number;
  build: (occurredAt: string) => PlannedEvent;
}

/**
 * What a planner knows after some lines of a file, enough to plan the next line exactly as a
 * plan of the whole file would: JSON, so `logbook-hook sync` can keep it beside a file's offset
 * and go on later where it stopped, giving every line the id, session and time `import` gives.
 */
export interface PlannerState {
  /** The session of the last line that named one. */
  lastSessionId?: string;
  /** The first session a line of the file names (lines before it belong to it). */
  firstSessionId?: string;
  /** The last line's time. */
  lastTime?: string;
  /** Name-based id of (session, content) -> times a uuid-less line with them was seen. */
  seen: Record<string, number>;
  /** Inline sidechain line uuid -> root uuid of its chain. */
  sidechainRoot: Record<string, string>;
  /**
   * The file's Task calls so far: digest of a call's prompt -> the subagent type it asked for
   * ("" when calls with that prompt asked for different types). Absent in states saved before.
   */
  subagentTypes?: SubagentTypes;
  /** Subagent (its agent id, as in its session's external id) -> its type, "" when none is known. */
  chainTypes?: Record<string, string>;
}

/** Digest of a Task call's prompt -> the subagent type it asked for, "" when ambiguous. */
export type SubagentTypes = Record<string, string>;

export const emptyPlannerState = (): PlannerState => ({ seen: {}, sidechainRoot: {} });

/**
 * Plans a transcript file line by line (see the top of this file for the rules). Lines that
 * cannot be planned yet wait inside: lines before the first timestamp (they take it), and,
 * with `holdUntilSession`, lines before the first line that names a session (they belong to
 * it). Without `holdUntilSession` such lines take `firstSessionId`, else the file's name.
 * `finish()` ends the file: waiting lines take the file's name and the Unix epoch.
 */
export class TranscriptPlanner {
  private readonly state: PlannerState;
  private pending: PendingLine[] = [];
  private held: Array<{ line: number; text: string; parsed: Record<string, unknown> }> = [];

  constructor(
    private readonly file: TranscriptFile,
    private readonly options: {
      firstSessionId?: string;
      holdUntilSession?: boolean;
      state?: PlannerState;
      /** For a subagent file: the Task calls of its parent's file (`subagentTypesOf`). */
      parentSubagentTypes?: SubagentTypes;
    } = {},
  ) {
    this.state = options.state ?? emptyPlannerState();
    if (options.firstSessionId !== undefined) this.state.firstSessionId ??= options.firstSessionId;
  }

  /** Whether lines wait for a timestamp or a session that no line has named yet. */
  get holding(): boolean {
    return this.pending.length > 0 || this.held.length > 0;
  }

  /** A copy of what the planner knows; meaningful only while it is not `holding`. */
  snapshot(): PlannerState {
    return structuredClone(this.state);
  }

  /** Plans one line of the file (`line`: its 1-based number). */
  feed(rawLine: string, line: number): PlanItem[] {
    const text = rawLine.trim();
    if (text === "") return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return [{ kind: "error", line, message: `not JSON: ${(error as Error).message}` }];
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return [{ kind: "error", line, message: "not a JSON object" }];
    }
    const record = parsed as Record<string, unknown>;
    const ownSessionId = field(record.sessionId);
    const known = ownSessionId ?? this.state.lastSessionId ?? this.state.firstSessionId;
    if (known === undefined && this.options.holdUntilSession === true) {
      this.held.push({ line, text, parsed: record });
      return [];
    }
    const out: PlanItem[] = [];
    if (this.held.length > 0) {
      // The first line that names a session: the lines before it belong to it.
      this.state.firstSessionId ??= known;
      out.push(...this.releaseHeld());
    }
    out.push(...this.plan(text, record, line));
    return out;
  }

  /** The file is complete: what still waits takes the file's name as session and the epoch as time. */
  finish(): PlanItem[] {
    this.state.firstSessionId ??= this.file.sessionId;
    const out = this.releaseHeld();
    for (const early of this.pending) out.push(early.build(EPOCH));
    this.pending = [];
    // Lines appended later (sync) without a time of their own take the epoch too, not wait.
    this.state.lastTime ??= EPOCH;
    return out;
  }

  private releaseHeld(): PlanItem[] {
    const held = this.held;
    this.held = [];
    return held.flatMap((item) => this.plan(item.text, item.parsed, item.line));
  }

  private plan(text: string, line: Record<string, unknown>, lineNo: number): PlanItem[] {
    const { file, state } = this;
    const ownSessionId = field(line.sessionId);
    if (ownSessionId !== undefined) state.lastSessionId = ownSessionId;
    const sessionId = ownSessionId ?? state.lastSessionId ?? state.firstSessionId ?? file.sessionId;
    const agentId = field(line.agentId) ?? file.agentId;
    const isSidechain = line.isSidechain === true;
    const uuid = isUuidShaped(line.uuid) ? line.uuid.toLowerCase() : undefined;

    let externalSessionId = sessionId;
    let parentExternalSessionId: string | undefined;
    let childAgentId: string | undefined;
    if (file.agentId !== undefined || (isSidechain && agentId !== undefined)) {
      childAgentId = agentId;
    } else if (isSidechain) {
      const parentUuid = typeof line.parentUuid === "string" ? line.parentUuid : undefined;
      const root =
        (parentUuid && own(state.sidechainRoot, parentUuid)) ?? uuid ?? uuidFromName(`${sessionId}\n${text}`);
      if (typeof line.uuid === "string") state.sidechainRoot[line.uuid] = root;
      childAgentId = `sidechain-${root.slice(0, 8)}`;
    }
    if (childAgentId !== undefined) {
      externalSessionId = subagentExternalId(sessionId, childAgentId);
      parentExternalSessionId = sessionId;
    } else {
      addSubagentRequests((state.subagentTypes ??= {}), line);
    }
    const agentType = childAgentId === undefined ? undefined : this.agentTypeOf(childAgentId, line);

    let id = uuid;
    if (id === undefined) {
      const key = `${externalSessionId}\n${text}`;
      // Kept by a digest of the line, not the line: the state stays small for long files.
      const digest = uuidFromName(`logbook-transcript-seen\n${key}`);
      const seen = own(state.seen, digest) ?? 0;
      state.seen[digest] = seen + 1;
      id = uuidFromName(`logbook-transcript-line\n${key}\n${seen}`);
    }
    const eventType = typeof line.type === "string" && TYPE_NAME.test(line.type) ? line.type : "unknown";
    const level =
      typeof line.level === "string" && LEVELS.has(line.level) ? (line.level as IngestEvent["level"]) : undefined;
    const parentUuid = field(line.parentUuid);
    const cwd = field(line.cwd, LIMITS.path);
    const eventId = id;
    const event = (occurredAt: string): IngestEvent => ({
      id: eventId,
      externalSessionId,
      ...(parentExternalSessionId !== undefined ? { parentExternalSessionId } : {}),
      eventType,
      source: "transcript",
      ...(level !== undefined ? { level } : {}),
      occurredAt,
      isSidechain,
      ...(parentUuid !== undefined ? { parentUuid } : {}),
      ...(childAgentId !== undefined && field(childAgentId) !== undefined ? { agentId: childAgentId } : {}),
      ...(agentType !== undefined ? { agentType } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
      ...toolOf(line),
      payload: line,
    });
    const build = (occurredAt: string): PlannedEvent => ({
      kind: "event",
      line: lineNo,
      event: event(occurredAt),
      payloadText: text,
    });

    const out: PlanItem[] = [];
    const ownTime = timestampOf(line.timestamp);
    if (ownTime !== undefined) {
      if (state.lastTime === undefined) {
        for (const early of this.pending) out.push(early.build(ownTime));
        this.pending = [];
      }
      state.lastTime = ownTime;
    }
    if (state.lastTime === undefined) this.pending.push({ line: lineNo, build });
    else out.push(build(ownTime ?? state.lastTime));
    return out;
  }

  /**
   * A subagent's type, decided at the first line of it the planner sees (see the top of this
   * file) and kept for the lines after it. A sync resumed from a state saved before types were
   * kept may first see a later line, which says no prompt: that subagent stays without one.
   */
  private agentTypeOf(childAgentId: string, line: Record<string, unknown>): string | undefined {
    const chainTypes = (this.state.chainTypes ??= {});
    const decided = own(chainTypes, childAgentId);
    if (decided !== undefined) return decided === "" ? undefined : decided;
    const prompt = promptOf(line);
    const digest = prompt === undefined ? undefined : promptDigest(prompt);
    const type =
      digest === undefined
        ? ""
        : (own(this.state.subagentTypes ?? {}, digest) ?? own(this.options.parentSubagentTypes ?? {}, digest) ?? "");
    chainTypes[childAgentId] = type;
    return type === "" ? undefined : type;
  }
}

const promptDigest = (prompt: string): string => uuidFromName(`logbook-subagent-prompt\n${prompt}`);

/** What a user line says, when it is only text: a string, or one text block. */
function promptOf(line: Record<string, unknown>): string | undefined {
  if (line.type !== "user") return undefined;
  const content = (line.message as { content?: unknown } | undefined)?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content) && content.length === 1) {
    const block = content[0] as { type?: unknown; text?: unknown } | null;
    if (block?.type === "text" && typeof block.text === "string") return block.text;
  }
  return undefined;
}

/** Adds the Task calls of a line (tool uses with a `prompt` and a `subagent_type`) to `types`. */
function addSubagentRequests(types: SubagentTypes, line: Record<string, unknown>): void {
  const content = (line.message as { content?: unknown } | undefined)?.content;
  if (!Array.isArray(content)) return;
  for (const block of content as Array<Record<string, unknown> | null>) {
    if (block?.type !== "tool_use") continue;
    const input = block.input as { prompt?: unknown; subagent_type?: unknown } | null | undefined;
    const type = field(input?.subagent_type);
    if (type === undefined || typeof input?.prompt !== "string") continue;
    const digest = promptDigest(input.prompt);
    const before = own(types, digest);
    types[digest] = before === undefined || before === type ? type : "";
  }
}

/**
 * The Task calls of a session's own transcript file, for planning its subagents' files; none
 * when it cannot be read. Only lines that name a `subagent_type` are parsed.
 */
export async function subagentTypesOf(path: string): Promise<SubagentTypes> {
  const types: SubagentTypes = {};
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      if (!text.includes('"subagent_type"')) continue;
      try {
        const line = JSON.parse(text) as unknown;
        if (line !== null && typeof line === "object" && !Array.isArray(line)) {
          addSubagentRequests(types, line as Record<string, unknown>);
        }
      } catch {
        // a malformed line: the parent's own plan reports it
      }
    }
  } catch {
    // Not there (a subagent file imported alone), or unreadable: its own plan reports that. A
    // subagent's type must never stop its lines from being sent.
    return {};
  } finally {
    lines.close();
    input.destroy();
  }
  return types;
}

/** `record[key]` only when it is the record's own (a line's uuid may be "__proto__"-like text). */
function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/**
 * The first `sessionId` a line of the file names, read up to that line only (usually the
 * first or second), or undefined when none does.
 */
async function firstSessionIdOf(path: string): Promise<string | undefined> {
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      if (!text.includes('"sessionId"')) continue;
      try {
        const line = JSON.parse(text) as unknown;
        if (line !== null && typeof line === "object" && !Array.isArray(line)) {
          const sessionId = field((line as Record<string, unknown>).sessionId);
          if (sessionId !== undefined) return sessionId;
        }
      } catch {
        // a malformed line: planImport reports it
      }
    }
    return undefined;
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * Streams the planned events of one transcript file. Malformed lines come out as errors. A
 * subagent file's types come from `parentSubagentTypes`, else from reading its parent's file.
 */
export async function* planImport(
  path: string,
  options: { onBytesRead?: (bytes: number) => void; parentSubagentTypes?: SubagentTypes } = {},
): AsyncGenerator<PlanItem> {
  // Read ahead to the first line naming a session, so nothing waits in memory for it.
  const firstSessionId = await firstSessionIdOf(path);
  const file = transcriptFileOf(path);
  const parentSubagentTypes =
    options.parentSubagentTypes ?? (file.parentPath !== undefined ? await subagentTypesOf(file.parentPath) : undefined);
  const planner = new TranscriptPlanner(file, {
    ...(firstSessionId !== undefined ? { firstSessionId } : {}),
    ...(parentSubagentTypes !== undefined ? { parentSubagentTypes } : {}),
  });
  const input = createReadStream(path, { encoding: "utf8" });
  const { onBytesRead } = options;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const rawLine of lines) {
      lineNo++;
      onBytesRead?.(input.bytesRead);
      yield* planner.feed(rawLine, lineNo);
    }
    yield* planner.finish();
  } finally {
    lines.close();
    input.destroy();
  }
}
