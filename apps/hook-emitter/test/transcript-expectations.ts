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
