import type { LogbookClient, RouterInputs, RouterOutputs } from "@logbook/sdk";
import { Command, Option } from "commander";

import type { CommandContext, ContextFactory } from "../context.js";
import { CliError, EXIT } from "../exit-codes.js";
import { formatCount, oneLine } from "../format.js";
import { projectsOf, resolveProject, resolveSession } from "../resolve.js";
import { printSessions } from "../sessions-table.js";
import { parseTimeArgument } from "../since.js";
import { formatTimestamp } from "../time.js";
import { listOf, MAX_LIMIT, parseLimit } from "./options.js";

type SearchInput = RouterInputs["events"]["search"];
type Hit = RouterOutputs["events"]["search"]["items"][number];

interface SearchOptions {
  sessions?: boolean;
  project?: string;
  session?: string;
  type?: string[];
  since?: string;
  until?: string;
  subagents?: boolean;
  archived?: boolean;
  limit: number;
}

/**
 * `logbook search <text>`: every stored event whose words match (prompts, replies, tool
 * calls and results, summaries), most relevant first, through `events.search`. With
 * `--sessions`, the older search: sessions whose title, label or first prompt contains
 * the text, through `sessions.list`.
 */
export function searchCommand(contexts: ContextFactory): Command {
  return new Command("search")
    .description(
      'search every event (prompts, replies, tool calls and results, summaries); web-search syntax: "a phrase", or, -word',
    )
    .argument("<text>", 'what to look for (text that starts with "-" goes after "--": search -- "-skip flaky")')
    .option("--sessions", "find sessions whose title, label or first prompt contains <text> instead")
    .option("-p, --project <project>", "only this project: its path (e.g. .) or id")
    .option("-s, --session <session>", "only this session (and its subagents): Logbook's or the agent's id")
    .addOption(
      new Option("-t, --type <types>", "only these event types, comma-separated (e.g. user,assistant)").argParser(
        listOf("user,assistant"),
      ),
    )
    .option(
      "--since <when>",
      "from: an age (7d, 2w), a day (2026-11-01, from its midnight here) or a date-time with an offset",
    )
    .option("--until <when>", "until (not included): an age, a day or a date-time")
    .option("--subagents", "with --sessions: include subagents' sessions")
    .option("--archived", "with --sessions: search archived sessions instead")
    .addOption(new Option("-n, --limit <n>", "at most this many results (1-500)").default(50).argParser(parseLimit))
    .action(async (text: string, options: SearchOptions, command: Command) => {
      if (text.trim() === "") throw new CliError("the search text must not be empty", EXIT.usage);
      refuseIgnoredOptions(command, options.sessions === true);
      const context = contexts.create(command);
      const client = context.client();
      if (options.sessions) return searchSessions(context, client, text, options);
      const timeZone = context.environment.timeZone;
      const input: SearchInput = {
        query: text,
        limit: options.limit,
        ...(options.type !== undefined ? { eventTypes: options.type } : {}),
        ...(options.since !== undefined ? { from: parseTimeArgument(options.since, "--since", { timeZone }) } : {}),
        ...(options.until !== undefined ? { to: parseTimeArgument(options.until, "--until", { timeZone }) } : {}),
      };
      const page = await context.out.spin(`searching for ${text}`, async () => {
        if (options.project !== undefined) input.projectId = (await resolveProject(client, options.project)).id;
        if (options.session !== undefined) input.sessionId = (await resolveSession(client, options.session)).id;
        return client.events.search.query(input);
      });
      if (context.out.json) context.out.jsonResult({ query: text, hits: page.items, nextCursor: page.nextCursor });
      else {
        printHits(context, page.items);
        if (page.nextCursor !== null) context.out.notice(moreThanShown(page.items.length, options.limit, "match"));
      }
    });
}

/** Options that only one of the two searches reads; given to the other, they would do nothing. */
const EVENT_SEARCH_ONLY = ["project", "session", "type", "since", "until"] as const;
const SESSION_SEARCH_ONLY = ["subagents", "archived"] as const;

function refuseIgnoredOptions(command: Command, sessions: boolean): void {
  const unread = sessions ? EVENT_SEARCH_ONLY : SESSION_SEARCH_ONLY;
  const given = unread.filter((name) => command.getOptionValueSource(name) === "cli").map((name) => `--${name}`);
  if (given.length === 0) return;
  const message = sessions
    ? `only the event search reads ${given.join(", ")}: drop --sessions, or drop ${given.join(", ")}`
    : `only the session search reads ${given.join(", ")}: add --sessions`;
  throw new CliError(message, EXIT.usage);
}

async function searchSessions(
  context: CommandContext,
  client: LogbookClient,
  text: string,
  options: SearchOptions,
): Promise<void> {
  const page = await context.out.spin(`searching sessions for ${text}`, () =>
    client.sessions.list.query({
      search: text,
      limit: options.limit,
      ...(options.subagents ? {} : { parentSessionId: null }),
      ...(options.archived ? { archived: true } : {}),
    }),
  );
  if (context.out.json) context.out.jsonResult({ query: text, sessions: page.items });
  else {
    printSessions(context.out, page.items, await projectsOf(client, page.items));
    if (page.nextCursor !== null) context.out.notice(moreThanShown(page.items.length, options.limit, "session"));
  }
}

/** The hint under a full page: the API has more, and the table alone would not say so. */
function moreThanShown(shown: number, limit: number, noun: "match" | "session"): string {
  const what = noun === "match" ? formatCount(shown, "match", "matches") : formatCount(shown, "session");
  const how = limit < MAX_LIMIT ? `raise -n/--limit (up to ${MAX_LIMIT}) or narrow the search` : "narrow the search";
  return `showing the first ${what}; there are more: ${how}`;
}

/** One row per hit: when, which session (the id to give `logbook show`), what kind, the snippet. */
function printHits(context: CommandContext, hits: Hit[]): void {
  const { out } = context;
  if (hits.length === 0) {
    out.line("no matches");
    return;
  }
  const rows = hits.map((hit) => [
    formatTimestamp(hit.event.occurredAt, context.environment.timeZone),
    hit.session.externalId ?? hit.session.id,
    hit.event.toolName ? `${hit.event.eventType} ${hit.event.toolName}` : hit.event.eventType,
    snippetLine(context, hit),
  ]);
  out.printTable(["TIME", "SESSION", "TYPE", "MATCH"], rows, { shrink: [{ column: 3 }], drop: [2, 0] });
  out.notice(out.colors.dim(`times in ${context.environment.timeZone}`));
}

/** The snippet on one line, matches bold on a terminal. */
export function snippetLine(context: Pick<CommandContext, "out">, hit: Hit, max = 100): string {
  const flat = oneLine(hit.snippet.map((part) => part.text).join(""), max);
  if (flat === "") return oneLine(hit.event.message ?? "", max);
  // Marks are applied to the cut line: each match is found again, in order, in what is left of it.
  let rest = flat;
  let shown = "";
  for (const part of hit.snippet.filter((p) => p.match)) {
    const word = part.text.replace(/\s+/g, " ").trim();
    const at = word === "" ? -1 : rest.indexOf(word);
    if (at < 0) continue;
    shown += rest.slice(0, at) + context.out.colors.bold(context.out.colors.yellow(word));
    rest = rest.slice(at + word.length);
  }
  return shown + rest;
}
