import type { LogbookClient, RouterInputs, SessionStatus } from "@logbook/sdk";
import { Command, Option } from "commander";

import type { ContextFactory } from "../context.js";
import { projectsOf, resolveProject } from "../resolve.js";
import { printSessions } from "../sessions-table.js";
import { parseTimeArgument } from "../since.js";
import type { Session } from "../types.js";
import { listOf, parseLimit } from "./options.js";

type ListInput = Exclude<RouterInputs["sessions"]["list"], void | undefined>;

const NEEDS_YOU: SessionStatus = "waiting_input";

/**
 * `logbook sessions`: sessions, the ones waiting for their person first (longest waiting
 * first), then by last activity. Waiting sessions are asked for separately (in the same
 * HTTP request), so one that has waited for days is not pushed off the page by busier ones.
 */
export function sessionsCommand(contexts: ContextFactory): Command {
  return new Command("sessions")
    .description("list sessions: those waiting for you first, then the most recently active")
    .addOption(
      new Option(
        "-s, --status <statuses>",
        "only these statuses, comma-separated (e.g. waiting_input,active)",
      ).argParser(listOf("waiting_input,active")),
    )
    .option("-p, --project <project>", "only this project: its path (e.g. .) or id")
    .option("-m, --machine <machine>", "only sessions from this machine (host name)")
    .option("-a, --agent <type>", "only subagents of this type (e.g. Explore, general-purpose); implies --subagents")
    .option(
      "--since <when>",
      "active since: an age (30m, 12h, 7d, 2w), a day (2026-11-30, from its midnight here) or a date-time with an offset",
    )
    .option(
      "--subagents",
      "include subagents' sessions (by default only top-level sessions, and subagents waiting for you)",
    )
    .addOption(new Option("-n, --limit <n>", "at most this many sessions (1-500)").default(50).argParser(parseLimit))
    .action(async (options: SessionsOptions, command: Command) => {
      const context = contexts.create(command);
      const client = context.client();
      const sessions = await context.out.spin("loading sessions", async () => {
        const filter: ListInput = {
          ...(options.machine !== undefined ? { machineId: options.machine } : {}),
          ...(options.agent !== undefined ? { agentType: options.agent } : {}),
          ...(options.since !== undefined
            ? { from: parseTimeArgument(options.since, "--since", { timeZone: context.environment.timeZone }) }
            : {}),
          // An agent type is a subagent's: asking for one asks for subagents.
          ...(options.subagents || options.agent !== undefined ? {} : { parentSessionId: null }),
          limit: options.limit,
        };
        if (options.project !== undefined) filter.projectId = (await resolveProject(client, options.project)).id;
        const statuses = options.status as SessionStatus[] | undefined;
        return listNeedsYouFirst(client, filter, statuses);
      });
      if (context.out.json) context.out.jsonResult({ sessions });
      else printSessions(context.out, sessions, await projectsOf(client, sessions));
    });
}

interface SessionsOptions {
  status?: string[];
  project?: string;
  machine?: string;
  agent?: string;
  since?: string;
  subagents?: boolean;
  limit: number;
}

async function listNeedsYouFirst(
  client: LogbookClient,
  filter: ListInput,
  statuses: SessionStatus[] | undefined,
): Promise<Session[]> {
  const limit = filter.limit ?? 50;
  const askWaiting = statuses === undefined || statuses.includes(NEEDS_YOU);
  const { machineId, agentType, projectId, from } = filter;
  const [waiting, rest] = await Promise.all([
    // The longest waiting first: the limit cuts the newest waiters, never the oldest. Subagents
    // included whatever --subagents says: a permission prompt inside one waits in its session.
    askWaiting ? client.sessions.needsYou.query({ limit, machineId, agentType, projectId, from }) : null,
    client.sessions.list.query({ ...filter, ...(statuses ? { status: statuses } : {}) }),
  ]);
  const first = waiting?.map((item) => item.session) ?? [];
  const seen = new Set(first.map((s) => s.id));
  return [...first, ...rest.items.filter((s) => !seen.has(s.id))].slice(0, limit);
}
