import { Command, Option } from "commander";

import type { ContextFactory } from "../context.js";
import { CliError, EXIT } from "../exit-codes.js";
import { printSessions } from "../sessions-table.js";
import { parseLimit } from "./options.js";

/**
 * `logbook search <text>`: sessions whose title, label or first prompt contains the text
 * (case-insensitive), through `sessions.list`'s `search`, the search the API offers today.
 */
export function searchCommand(contexts: ContextFactory): Command {
  return new Command("search")
    .description("find sessions whose title, label or first prompt contains <text> (case-insensitive)")
    .argument("<text>", "the text to look for")
    .option("--subagents", "include subagents' sessions")
    .option("--archived", "search archived sessions instead")
    .addOption(new Option("-n, --limit <n>", "at most this many sessions (1-500)").default(50).argParser(parseLimit))
    .action(
      async (text: string, options: { subagents?: boolean; archived?: boolean; limit: number }, command: Command) => {
        if (text.trim() === "") throw new CliError("the search text must not be empty", EXIT.usage);
        const context = contexts.create(command);
        const client = context.client();
        const page = await context.out.spin(`searching for ${text}`, () =>
          client.sessions.list.query({
            search: text,
            limit: options.limit,
            ...(options.subagents ? {} : { parentSessionId: null }),
            ...(options.archived ? { archived: true } : {}),
          }),
        );
        if (context.out.json) context.out.jsonResult({ query: text, sessions: page.items });
        else printSessions(context.out, page.items);
      },
    );
}
