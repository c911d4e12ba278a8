/**
 * A session's title, label or first prompt as a person reads it. A session started with a
 * slash command has a first prompt in Claude Code's markup
 * (`<command-message>init is analyzing…</command-message><command-name>/init</command-name>
 * <command-args>…</command-args>`): that reads as the command, `/init` and its arguments.
 * Other tags are dropped and white space is collapsed. Empty when nothing is left.
 *
 * @example
 * ```ts
 * readableTitle("<command-name>/review</command-name><command-args>PR 12</command-args>"); // "/review PR 12"
 * ```
 */
export function readableTitle(text: string): string {
  const command = /<command-name>\s*\/?([^<\s][^<]*?)\s*<\/command-name>/i.exec(text)?.[1];
  if (command !== undefined) {
    const args = /<command-args>([^<]*)<\/command-args>/i.exec(text)?.[1]?.trim();
    return collapse(`/${command}${args ? ` ${args}` : ""}`);
  }
  return collapse(text.replace(/<\/?[a-z][a-z0-9-]*>/gi, " "));
}

/**
 * What to call a session: its title, else its label, else its first prompt (the first that
 * says something), read by `readableTitle`. A subagent seen only through hooks has none of
 * them: given its `parentSessionId` and `agentType`, it is called by its type,
 * `(Explore subagent)`. Null when nothing says anything.
 */
export function sessionTitle(session: {
  title: string | null;
  label: string | null;
  initialQuery: string | null;
  parentSessionId?: string | null;
  agentType?: string | null;
}): string | null {
  for (const text of [session.title, session.label, session.initialQuery]) {
    const readable = text === null ? "" : readableTitle(text);
    if (readable !== "") return readable;
  }
  const agentType = collapse(session.agentType ?? "");
  return session.parentSessionId && agentType !== "" ? `(${agentType} subagent)` : null;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
