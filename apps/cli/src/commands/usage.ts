import { isLogbookError, readableTitle, type LogbookClient, type RouterInputs, type RouterOutputs } from "@logbook/sdk";
import { Argument, Command } from "commander";

import type { CommandContext, ContextFactory } from "../context.js";
import { CliError, EXIT } from "../exit-codes.js";
import { formatNumber, formatPricedCost, oneLine } from "../format.js";
import { resolveProject } from "../resolve.js";
import type { TableOptions } from "../output.js";
import { parseTimeArgument } from "../since.js";
import { parseLimit } from "./options.js";

type ReportInput = Exclude<RouterInputs["usage"]["report"], void | undefined>;
type Report = RouterOutputs["usage"]["report"];
type Row = Report["rows"][number];
/** A row as shown: session rows also carry the agent's own session id. */
type ShownRow = Row & { externalId?: string | null };
type ShownReport = Omit<Report, "rows"> & { rows: ShownRow[] };

/** What a person types, and the server's grouping for it. */
const REPORTS = {
  daily: "day",
  weekly: "week",
  monthly: "month",
  session: "session",
  project: "project",
  model: "model",
  machine: "machine",
} as const satisfies Record<string, ReportInput["groupBy"]>;
type ReportName = keyof typeof REPORTS;

const HEAD: Record<ReportName, string> = {
  daily: "Date",
  weekly: "Week",
  monthly: "Month",
  session: "Session",
  project: "Project",
  model: "Model",
  machine: "Machine",
};

const PERIODS = new Set<ReportName>(["daily", "weekly", "monthly"]);

interface UsageOptions {
  since?: string;
  until?: string;
  project?: string;
  machine?: string;
  model?: string;
  timezone?: string;
  limit?: number;
}

/**
 * `logbook usage <report>`: tokens by kind and cost, like ccusage's tables, from the
 * server's `usage.report`: every API response counted once, priced when it was stored,
 * days, weeks and months as calendar periods in a time zone.
 */
export function usageCommand(contexts: ContextFactory): Command {
  return new Command("usage")
    .description("tokens (input, output, cache) and cost per day, week, month, session, project, model or machine")
    .addArgument(new Argument("<report>", "how to group").choices(Object.keys(REPORTS)))
    .option("--since <when>", "from: an age (7d, 2w), a day (2026-11-01) or a date-time with an offset")
    .option("--until <when>", "until (not included): an age, a day or a date-time")
    .option("-p, --project <project>", "only this project: its path (e.g. .) or id")
    .option("-m, --machine <machine>", "only this machine")
    .option("--model <model>", "only this model")
    .option("--timezone <zone>", "IANA time zone of days, weeks and months (default: this machine's)")
    .option("-n, --limit <n>", "at most this many rows (default 100)", parseLimit)
    .action(async (name: ReportName, options: UsageOptions, command: Command) => {
      if (options.timezone !== undefined) checkTimeZone(options.timezone);
      const context = contexts.create(command);
      const client = context.client();
      const input: ReportInput = {
        groupBy: REPORTS[name],
        timeZone: options.timezone ?? context.environment.timeZone,
        limit: options.limit ?? 100,
        // A day is the server's to place: midnight in the report's time zone.
        ...(options.since !== undefined
          ? { from: parseTimeArgument(options.since, "--since", { keepDays: true }) }
          : {}),
        ...(options.until !== undefined ? { to: parseTimeArgument(options.until, "--until", { keepDays: true }) } : {}),
        ...(options.machine !== undefined ? { machineId: options.machine } : {}),
        ...(options.model !== undefined ? { model: options.model } : {}),
      };
      const report = await context.out.spin("adding up usage", async () => {
        if (options.project !== undefined) input.projectId = (await resolveProject(client, options.project)).id;
        const fetched = await fetchReport(client, input);
        return name === "session" ? withExternalIds(client, fetched) : fetched;
      });
      if (context.out.json) {
        context.out.jsonResult({ report: name, ...report });
        return;
      }
      const { since, until, project, machine, model } = options;
      const filtered = [since, until, project, machine, model].some((value) => value !== undefined);
      printUsage(context, name, report, filtered);
    });
}

/** A zone this machine's Intl does not know is a typo: said at once, before any server is asked. */
function checkTimeZone(zone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    throw new CliError(`--timezone ${zone}: not an IANA time zone (e.g. Europe/Paris, UTC)`, EXIT.usage);
  }
}

async function fetchReport(client: LogbookClient, input: ReportInput): Promise<Report> {
  try {
    return await client.usage.report.query(input);
  } catch (error) {
    // The server names the field it refused; for a time zone that is this option.
    if (error instanceof Error && /timeZone/.test(error.message)) {
      throw new CliError(
        `--timezone ${input.timeZone ?? ""}: not an IANA time zone (e.g. Europe/Paris, UTC)`,
        EXIT.usage,
      );
    }
    throw error;
  }
}

/** Sessions rows keyed by Logbook id also get the agent's own id, the one `sessions` shows. */
async function withExternalIds(client: LogbookClient, report: Report): Promise<ShownReport> {
  const rows: ShownRow[] = [];
  // At most 25 lookups at once: one batched request each, well inside the server's batch limit.
  for (let start = 0; start < report.rows.length; start += 25) {
    const chunk = report.rows.slice(start, start + 25);
    const sessions = await Promise.all(
      chunk.map((row) =>
        client.sessions.get.query({ id: row.key }).catch((error: unknown) => {
          if (isLogbookError(error) && error.code === "NOT_FOUND") return null; // deleted since
          throw error;
        }),
      ),
    );
    chunk.forEach((row, index) => rows.push({ ...row, externalId: sessions[index]?.externalId ?? null }));
  }
  return { ...report, rows };
}

function printUsage(context: CommandContext, name: ReportName, report: ShownReport, filtered: boolean): void {
  const { out } = context;
  if (report.rows.length === 0) {
    out.line(filtered ? "no usage recorded that matches these filters" : "no usage recorded yet");
    return;
  }
  const numbers = (r: Omit<Row, "key" | "label" | "models">) => [
    formatNumber(r.inputTokens),
    formatNumber(r.outputTokens),
    formatNumber(r.cacheCreationTokens),
    formatNumber(r.cacheReadTokens),
    formatNumber(r.totalTokens),
    formatPricedCost(r.costUsd, r.unpricedMessages),
  ];
  const label = (row: ShownRow) => {
    if (name === "session") {
      const title = oneLine((row.label === null ? "" : readableTitle(row.label)) || "(untitled)", 40);
      const id = row.externalId ?? row.key;
      return context.environment.color ? `${title}\n${id}` : `${title} (${id})`;
    }
    if (name === "project") return row.key === "none" ? "(no project)" : (row.label ?? row.key);
    if (name === "weekly") return `week of ${row.key}`;
    return row.key;
  };
  // On a terminal a list in the cell, as ccusage draws it; in a pipe one line per row, for grep.
  const models = (row: Row) =>
    context.environment.color ? row.models.map((m) => `- ${m}`).join("\n") : row.models.join(",");
  const withModels = name !== "model";
  const body = report.rows.map((row) => [label(row), ...(withModels ? [models(row)] : []), ...numbers(row)]);
  const totals = [
    out.colors.yellow("Total"),
    ...(withModels ? [""] : []),
    ...numbers(report.totals).map((cell) => out.colors.yellow(cell)),
  ];
  const head = [
    HEAD[name],
    ...(withModels ? ["Models"] : []),
    "Input",
    "Output",
    "Cache Create",
    "Cache Read",
    "Total Tokens",
    "Cost (USD)",
  ];
  const first = withModels ? 2 : 1;
  // What may be cut on a narrow terminal: titles and paths, never a period, model, machine
  // or id (a session's id is on its own line on a terminal; in a pipe it is in the cell, so
  // that cell is kept whole).
  const shrink: NonNullable<TableOptions["shrink"]> = [];
  if (name === "project") shrink.push({ column: 0, keep: "end" });
  if (name === "session" && context.environment.color) {
    shrink.push({ column: 0, min: Math.max(...report.rows.map((row) => (row.externalId ?? row.key).length)) });
  }
  if (withModels) shrink.push({ column: 1 });
  out.printTable(head, [...body, totals], {
    alignRight: [0, 1, 2, 3, 4, 5].map((i) => i + first),
    shrink,
    // The models, the cache columns, the total (as ccusage's compact table): input, output and cost stay.
    drop: [...(withModels ? [1] : []), first + 2, first + 3, first + 4],
  });
  const notes = [`times in ${report.timeZone}`, `prices ${report.priceTableVersion}`];
  const left = report.groupCount - report.rows.length;
  if (left > 0) {
    // The Total row covers them too: say so, or the rows and the total disagree unexplained.
    const which = PERIODS.has(name) ? "earlier" : "smaller";
    notes.push(`${formatNumber(left)} ${which} ${left === 1 ? "row" : "rows"} not shown but in the total (--limit)`);
  }
  if (report.totals.unpricedMessages > 0) {
    const count = report.totals.unpricedMessages;
    notes.push(
      `* ${formatNumber(count)} ${count === 1 ? "response" : "responses"} of models without a price ${count === 1 ? "is" : "are"} not in the cost`,
    );
  }
  out.notice(out.colors.dim(notes.join("; ")));
}
