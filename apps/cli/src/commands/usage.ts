import { isLogbookError, type LogbookClient } from "@logbook/sdk";
import { Argument, Command } from "commander";

import type { ContextFactory } from "../context.js";
import { formatCost, formatNumber, sessionName } from "../format.js";
import { resolveProject } from "../resolve.js";
import { parseTimeArgument } from "../since.js";
import {
  labelRows,
  rollUpDays,
  totalsOf,
  USAGE_REPORTS,
  type TotalsInput,
  type UsageReport,
  type UsageRow,
} from "../usage-report.js";
import { parseLimit } from "./options.js";

/** The most rows `stats.tokenTotals` returns at once. */
const MAX_ROWS = 1000;
/** Name lookups sent together (one batched HTTP request each). */
const LOOKUP_CHUNK = 25;

interface UsageOptions {
  since?: string;
  until?: string;
  project?: string;
  limit?: number;
}

/**
 * `logbook usage <report>`: tokens by kind and cost, like ccusage's tables, from
 * `stats.tokenTotals`. A session's counters are running totals, so the server counts a
 * whole session on the UTC day it was last active; weeks and months add those days up.
 */
export function usageCommand(contexts: ContextFactory): Command {
  return new Command("usage")
    .description("tokens (input, output, cache) and cost per day, week, month, session or project")
    .addArgument(new Argument("<report>", "how to group").choices(USAGE_REPORTS))
    .option("--since <when>", "sessions active since: an age (7d, 2w) or a date (2026-11-01)")
    .option("--until <when>", "sessions active before: an age or a date")
    .option("-p, --project <project>", "only this project: its path (e.g. .) or id")
    .option(
      "-n, --limit <n>",
      "session and project reports: at most this many rows, most expensive first (default 50)",
      parseLimit,
    )
    .action(async (report: UsageReport, options: UsageOptions, command: Command) => {
      const context = contexts.create(command);
      const client = context.client();
      const from = options.since !== undefined ? parseTimeArgument(options.since, "--since") : undefined;
      const to = options.until !== undefined ? parseTimeArgument(options.until, "--until") : undefined;
      const rows = await context.out.spin("adding up usage", async () => {
        const projectId =
          options.project !== undefined ? (await resolveProject(client, options.project)).id : undefined;
        const range = { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(projectId ? { projectId } : {}) };
        if (report === "session" || report === "project") {
          const totals = await client.stats.tokenTotals.query({
            ...range,
            groupBy: report,
            limit: options.limit ?? 50,
          });
          const labels =
            report === "session" ? await sessionLabels(client, totals) : await projectLabels(client, totals);
          return labelRows(totals, (key) => labels.get(key) ?? key);
        }
        const days = await client.stats.tokenTotals.query({ ...range, groupBy: "day", limit: MAX_ROWS });
        return rollUpDays(days, report);
      });
      const totals = totalsOf(rows);
      if (context.out.json) {
        context.out.jsonResult({ report, from: from ?? null, to: to ?? null, rows, totals });
        return;
      }
      printUsage(context, report, rows, totals);
    });
}

const HEAD: Record<UsageReport, string> = {
  daily: "Date",
  weekly: "Week",
  monthly: "Month",
  session: "Session",
  project: "Project",
};

function printUsage(
  context: ReturnType<ContextFactory["create"]>,
  report: UsageReport,
  rows: UsageRow[],
  totals: ReturnType<typeof totalsOf>,
): void {
  const { out } = context;
  if (rows.length === 0) {
    out.line("no usage recorded in this range");
    return;
  }
  const numbers = (r: Omit<UsageRow, "key" | "label">) => [
    formatNumber(r.sessions),
    formatNumber(r.inputTokens),
    formatNumber(r.outputTokens),
    formatNumber(r.cacheCreationTokens),
    formatNumber(r.cacheReadTokens),
    formatNumber(r.totalTokens),
    formatCost(r.costUsd),
  ];
  const body = rows.map((row) => [row.label, ...numbers(row)]);
  const total = [out.colors.yellow("Total"), ...numbers(totals).map((cell) => out.colors.yellow(cell))];
  const head = [
    HEAD[report],
    "Sessions",
    "Input",
    "Output",
    "Cache Create",
    "Cache Read",
    "Total Tokens",
    "Cost (USD)",
  ];
  out.line(out.table(head, [...body, total], { alignRight: [1, 2, 3, 4, 5, 6, 7] }));
  if (report === "daily" || report === "weekly" || report === "monthly") {
    out.notice(out.colors.dim("each session counts on the UTC day it was last active"));
  }
}

/** A row whose session or project was deleted meanwhile keeps its id as its label; other failures stop the command. */
function goneIsNull(error: unknown): null {
  if (isLogbookError(error) && error.code === "NOT_FOUND") return null;
  throw error;
}

async function inChunks<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += LOOKUP_CHUNK) {
    results.push(...(await Promise.all(items.slice(i, i + LOOKUP_CHUNK).map(fn))));
  }
  return results;
}

async function sessionLabels(client: LogbookClient, rows: readonly TotalsInput[]): Promise<Map<string, string>> {
  const sessions = await inChunks(rows, (row) => client.sessions.get.query({ id: row.key }).catch(goneIsNull));
  const labels = new Map<string, string>();
  for (const session of sessions) {
    if (session) labels.set(session.id, `${sessionName(session, 40)} (${session.externalId ?? session.id})`);
  }
  return labels;
}

async function projectLabels(client: LogbookClient, rows: readonly TotalsInput[]): Promise<Map<string, string>> {
  const ids = rows.map((row) => row.key).filter((key) => key !== "none");
  const projects = await inChunks(ids, (id) => client.projects.get.query({ id }).catch(goneIsNull));
  const labels = new Map<string, string>([["none", "(no project)"]]);
  for (const project of projects) if (project) labels.set(project.id, project.path);
  return labels;
}
