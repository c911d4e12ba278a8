import { join } from "node:path";

import { readJsonl, type TranscriptSet } from "@logbook/fixtures";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

/**
 * What importing a set of transcripts must give, counted here independently from the raw
 * files (whole-file reads are fine in a test), for our fixtures and the real corpus alike.
 */

export interface Line {
  type?: string;
  uuid?: string;
  parentUuid?: string | null;
  sessionId?: string;
  agentId?: string;
  isSidechain?: boolean;
  timestamp?: string;
}

export interface FileExpectation {
  lines: Line[];
  /** Distinct sessions the file's lines go to. */
  sessions: Set<string>;
  /** Of those, the sessions that are not a child of another (no phantom named after a file). */
  mainSessions: Set<string>;
  /** The agent id of a `<session>/subagents/agent-<id>.jsonl` file. */
  subagent?: string;
  /** The session a subagent file or the file's inline sidechains are children of. */
  parent?: string;
  /** Inline sidechain chains (old layout): each becomes one child session. */
  inlineChains: number;
}

const SUBAGENT = /^agent-(.+)\.jsonl$/;

/** Independent expectations for one file of a set (`file` relative, with `/`). */
export function expectationOf(set: TranscriptSet, file: string): FileExpectation {
  const lines = readJsonl(join(set.root, file)) as Line[];
  const parts = file.split("/");
  const name = expectDefined(parts.at(-1));
  const stem = name.replace(/\.jsonl$/, "");
  const subagent = parts.at(-2) === "subagents" ? SUBAGENT.exec(name)?.[1] : undefined;
  const sessions = new Set<string>();
  if (subagent !== undefined) {
    const parent = lines.find((l) => l.sessionId)?.sessionId ?? expectDefined(parts.at(-3));
    sessions.add(`${parent}:agent:${subagent}`);
    return { lines, sessions, mainSessions: new Set(), subagent, parent, inlineChains: 0 };
  }
  // A line without a sessionId belongs to the file's other lines; the file's name is a
  // session only when no line names one.
  const named = lines.find((l) => l.sessionId)?.sessionId;
  const mainSessions = new Set<string>();
  for (const line of lines) if (line.isSidechain !== true) mainSessions.add(line.sessionId ?? named ?? stem);
  for (const session of mainSessions) sessions.add(session);
  // every sidechain chain starts at a sidechain line whose parent is not a sidechain line
  const sidechainUuids = new Set(lines.filter((l) => l.isSidechain === true).map((l) => l.uuid));
  const roots = lines.filter(
    (l) => l.isSidechain === true && (l.parentUuid == null || !sidechainUuids.has(l.parentUuid)),
  );
  for (const root of roots) sessions.add(`child-of-${root.uuid}`);
  const parent = roots.length > 0 ? (expectDefined(roots[0]).sessionId ?? named ?? stem) : undefined;
  return {
    lines,
    sessions,
    mainSessions,
    ...(parent !== undefined ? { parent } : {}),
    inlineChains: roots.length,
  };
}

/**
 * Lines, distinct sessions and main (non-child) sessions of a whole set; the line uuids, and
 * how many lines name a `parentUuid` that no line of the set has.
 */
export function independentCount(set: TranscriptSet): {
  lines: number;
  sessions: number;
  mainSessions: string[];
  uuids: number;
  danglingParents: number;
} {
  let lines = 0;
  const sessions = new Set<string>();
  const mainSessions = new Set<string>();
  const all: Line[] = [];
  for (const file of set.files) {
    const want = expectationOf(set, file);
    lines += want.lines.length;
    all.push(...want.lines);
    for (const session of want.sessions) sessions.add(session);
    for (const session of want.mainSessions) mainSessions.add(session);
  }
  const uuids = new Set(all.flatMap((l) => (typeof l.uuid === "string" ? [l.uuid.toLowerCase()] : [])));
  const danglingParents = all.filter(
    (l) => typeof l.parentUuid === "string" && !uuids.has(l.parentUuid.toLowerCase()),
  ).length;
  return { lines, sessions: sessions.size, mainSessions: [...mainSessions].sort(), uuids: uuids.size, danglingParents };
}

/** Per parent session: the agent ids of its subagent files, and how many inline chains it has. */
export function expectedChildren(set: TranscriptSet): Map<string, { agents: string[]; inline: number }> {
  const children = new Map<string, { agents: string[]; inline: number }>();
  for (const file of set.files) {
    const want = expectationOf(set, file);
    if (want.parent === undefined) continue;
    const entry = children.get(want.parent) ?? { agents: [], inline: 0 };
    if (want.subagent !== undefined) entry.agents.push(`${want.parent}:agent:${want.subagent}`);
    entry.inline += want.inlineChains;
    children.set(want.parent, entry);
  }
  for (const entry of children.values()) entry.agents.sort();
  return children;
}

interface TaskCall {
  id?: string;
  prompt?: string;
  type?: string;
}

const blocksOf = (line: Record<string, unknown>): Array<Record<string, unknown>> => {
  const content = (line.message as { content?: unknown } | undefined)?.content;
  return Array.isArray(content) ? (content as Array<Record<string, unknown>>) : [];
};

/** The text a user line says, as a Task call's prompt would read. */
const textOf = (line: Record<string, unknown>): string | undefined => {
  const content = (line.message as { content?: unknown } | undefined)?.content;
  if (typeof content === "string") return content;
  const [only, ...rest] = blocksOf(line);
  return rest.length === 0 && only?.type === "text" && typeof only.text === "string" ? only.text : undefined;
};

/**
 * Each child session's subagent type (null: none), found the way a person would: a subagent
 * file by the Task call its parent's result names (`toolUseResult.agentId` → `tool_use_id`),
 * else, as an inline chain is, by the call whose prompt its first line says (one type only).
 */
export function expectedAgentTypes(set: TranscriptSet): Map<string, string | null> {
  const calls = new Map<string, TaskCall[]>();
  const resultOf = new Map<string, string>(); // `${session}:agent:${agentId}` -> tool_use_id
  const typeByPrompt = (session: string, prompt: string | undefined): string | null => {
    const types = new Set(
      (calls.get(session) ?? []).filter((c) => c.prompt === prompt && c.type !== undefined).map((c) => c.type),
    );
    return prompt !== undefined && types.size === 1 ? (expectDefined([...types][0]) ?? null) : null;
  };
  const mains = set.files.filter((file) => expectationOf(set, file).subagent === undefined);
  for (const file of mains) {
    for (const line of readJsonl(join(set.root, file)) as Array<Record<string, unknown>>) {
      const session = typeof line.sessionId === "string" ? line.sessionId : undefined;
      if (session === undefined || line.isSidechain === true) continue;
      for (const block of blocksOf(line)) {
        const input = block.input as { prompt?: unknown; subagent_type?: unknown } | undefined;
        if (block.type === "tool_use" && typeof input?.subagent_type === "string") {
          const list = calls.get(session) ?? [];
          list.push({
            ...(typeof block.id === "string" ? { id: block.id } : {}),
            ...(typeof input.prompt === "string" ? { prompt: input.prompt } : {}),
            type: input.subagent_type,
          });
          calls.set(session, list);
        }
        const result = line.toolUseResult as { agentId?: unknown } | undefined;
        if (
          block.type === "tool_result" &&
          typeof block.tool_use_id === "string" &&
          typeof result?.agentId === "string"
        )
          resultOf.set(`${session}:agent:${result.agentId}`, block.tool_use_id);
      }
    }
  }
  const want = new Map<string, string | null>();
  for (const file of set.files) {
    const expectation = expectationOf(set, file);
    const { parent } = expectation;
    if (parent === undefined) continue;
    const lines = expectation.lines as Array<Record<string, unknown>>;
    if (expectation.subagent !== undefined) {
      const child = `${parent}:agent:${expectation.subagent}`;
      const linked = (calls.get(parent) ?? []).find((c) => c.id !== undefined && c.id === resultOf.get(child));
      want.set(child, linked?.type ?? typeByPrompt(parent, lines[0] ? textOf(lines[0]) : undefined));
      continue;
    }
    const sidechainUuids = new Set(lines.filter((l) => l.isSidechain === true).map((l) => l.uuid));
    for (const root of lines) {
      if (root.isSidechain !== true || typeof root.agentId === "string") continue;
      if (typeof root.parentUuid === "string" && sidechainUuids.has(root.parentUuid)) continue;
      const uuid = String(root.uuid).toLowerCase();
      want.set(`${parent}:agent:sidechain-${uuid.slice(0, 8)}`, typeByPrompt(parent, textOf(root)));
    }
  }
  return want;
}
