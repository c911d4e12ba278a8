import { changedOnWayIn } from "@logbook/sdk";
import { Command, Option } from "commander";

import type { ContextFactory } from "../context.js";
import {
  formatCost,
  formatPricedCost,
  formatDuration,
  formatCount,
  formatNumber,
  sessionHandle,
  sessionName,
  totalTokens,
  type TokenCounts,
} from "../format.js";
import { cellWidth } from "../fit.js";
import type { Output } from "../output.js";
import { renderEntry } from "../render.js";
import { projectsOf, resolveSession } from "../resolve.js";
import { allSessionEvents } from "../session-events.js";
import { formatStatus } from "../sessions-table.js";
import { formatDay, formatTimestamp } from "../time.js";
import { buildTimeline, type TimelineEntry } from "../timeline.js";
import type { Project, Session, SessionTree } from "../types.js";
import { parseLimit } from "./options.js";

/** `logbook show <session>`: the header, tokens and cost, the timeline and the subagent tree. */
export function showCommand(contexts: ContextFactory): Command {
  return new Command("show")
    .description("one session: header, tokens and cost, timeline (prompts, tool calls, results), subagents")
    .argument("<session>", "the session's id or the agent's own session id (Claude Code's session_id)")
    .option("--full", "print every line of prompts, answers and tool output (default: one line each)")
    .addOption(new Option("--last <n>", "only the last <n> timeline entries").argParser(parseLimit))
    .action(async (reference: string, options: { full?: boolean; last?: number }, command: Command) => {
      const context = contexts.create(command);
      const client = context.client();
      const { session, tree, events, project } = await context.out.spin("loading session", async (update) => {
        const found = await resolveSession(client, reference);
        const [treeResult, eventList, projects] = await Promise.all([
          client.sessions.tree.query({ id: found.id }),
          allSessionEvents(client, found.id, (n) => update(`loading events (${formatNumber(n)})`)),
          projectsOf(client, [found]),
        ]);
        return { session: found, tree: treeResult, events: eventList, project: projects.get(found.projectId ?? "") };
      });
      const all = buildTimeline(events);
      const timeline = options.last !== undefined ? all.slice(-options.last) : all;
      if (context.out.json) {
        context.out.jsonResult({
          session,
          ancestors: tree.ancestors,
          subagents: tree.descendants,
          totalTokens: tree.totalTokens,
          eventCount: events.length,
          timeline,
        });
        return;
      }
      const zone = context.environment.timeZone;
      printHeader(context.out, session, project, tree, zone, context.environment.width);
      printTimeline(context.out, timeline, {
        width: context.environment.width,
        entries: all.length,
        events: events.length,
        full: options.full === true,
        zone,
      });
      printSubagents(context.out, tree);
    });
}

function tokenParts(tokens: TokenCounts & { unpricedMessages: number }): string[] {
  return [
    `input ${formatNumber(tokens.inputTokens)}`,
    `output ${formatNumber(tokens.outputTokens)}`,
    `cache write ${formatNumber(tokens.cacheCreationTokens)}`,
    `cache read ${formatNumber(tokens.cacheReadTokens)}`,
    `total ${formatNumber(totalTokens(tokens))}`,
    `cost ${formatCost(tokens.costUsd)}`,
    // Responses of a model without a price are not in the cost: say so rather than look complete.
    ...(tokens.unpricedMessages > 0 ? [`(+${formatCount(tokens.unpricedMessages, "unpriced response")})`] : []),
  ];
}

/** The header's label column: two spaces, the label padded to 9. */
const LABEL_WIDTH = 11;

/**
 * The token counts after their label, on as many lines as the width needs: a count is never
 * cut (a cut number reads as another number), the line breaks between two counts instead.
 */
function tokenLines(parts: string[], width: number | undefined): string {
  if (width === undefined) return parts.join("  ");
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines.at(-1);
    if (last !== undefined && LABEL_WIDTH + cellWidth(`${last}  ${part}`) <= width)
      lines[lines.length - 1] = `${last}  ${part}`;
    else lines.push(part);
  }
  return lines.join(`\n${" ".repeat(LABEL_WIDTH)}`);
}

function printHeader(
  out: Output,
  session: Session,
  project: Project | undefined,
  tree: SessionTree,
  zone: string,
  width: number | undefined,
): void {
  const at = (iso: string) => formatTimestamp(iso, zone);
  const { colors } = out;
  out.line(`${colors.bold(sessionName(session, 100))}  ${formatStatus(session.status, colors)}`);
  const parent = tree.ancestors.at(-1);
  const rows: Array<[string, string | null]> = [
    ["session", session.externalId],
    ["id", session.id],
    // What it waits for, or why it ended (`since` when the status came).
    ["status", session.statusReason ? `${session.statusReason} (since ${at(session.statusChangedAt)})` : null],
    ["parent", parent ? sessionHandle(parent) : null],
    // The project by name and path; where the agent worked only when that is elsewhere (a
    // subfolder, or a subagent's folder inside its parent's project).
    ["project", project ? `${project.name}  ${out.colors.dim(project.path)}` : null],
    ["cwd", session.cwd !== null && session.cwd !== project?.path ? session.cwd : null],
    ["machine", session.machineId],
    ["agent", [session.agentType, session.agentId].filter(Boolean).join(" ") || null],
    ["model", session.model],
    // The zone once, beside the first time: every time below is in it.
    ["started", `${at(session.startedAt ?? session.createdAt)} ${out.colors.dim(`(${zone})`)}`],
    ["active", at(session.lastActivityAt)],
    ["ended", session.endedAt ? at(session.endedAt) : null],
    [
      "duration",
      formatDuration(
        (Date.parse(session.endedAt ?? session.lastActivityAt) - Date.parse(session.startedAt ?? session.createdAt)) /
          1000,
      ),
    ],
    ["error", session.errorMessage],
    // What the stored text lost on its way in, so it is not taken for what was sent.
    ["changed", changedOnWayIn(session)],
  ];
  for (const [label, value] of rows) {
    if (value !== null && value !== "") out.line(`  ${colors.dim(label.padEnd(9))}${value}`);
  }
  out.line(`  ${colors.dim("tokens".padEnd(9))}${tokenLines(tokenParts(session.tokens), width)}`);
  if (tree.descendants.length > 0) {
    out.line(`  ${colors.dim("+ agents".padEnd(9))}${tokenLines(tokenParts(tree.totalTokens), width)}`);
  }
}

function printTimeline(
  out: Output,
  timeline: TimelineEntry[],
  {
    entries,
    events,
    full,
    zone,
    width,
  }: { entries: number; events: number; full: boolean; zone: string; width: number | undefined },
): void {
  out.line();
  const shown = timeline.length < entries ? `, last ${timeline.length} shown` : "";
  out.line(
    out.colors.bold(`Timeline`) +
      out.colors.dim(
        ` (${formatCount(events, "event")}, ${formatCount(entries, "entry", "entries")}${shown}, times in ${zone})`,
      ),
  );
  if (timeline.length === 0) out.line(out.colors.dim("  (nothing recorded yet)"));
  let day = "";
  for (const entry of timeline) {
    if (formatDay(entry.at, zone) !== day) {
      day = formatDay(entry.at, zone);
      out.line(out.colors.dim(`  ${day}`));
    }
    out.line(renderEntry(entry, out.colors, { full, prefix: "  ", timeZone: zone, width }));
  }
}

function printSubagents(out: Output, tree: SessionTree): void {
  if (tree.descendants.length === 0) return;
  out.line();
  out.line(out.colors.bold("Subagents") + out.colors.dim(` (${tree.descendants.length})`));
  for (const { session, depth } of tree.descendants) {
    const indent = "  ".repeat(depth);
    const kind = session.agentType ? `${out.colors.cyan(session.agentType)} ` : "";
    out.line(
      `${indent}└ ${kind}${sessionName(session, 60)}  ${formatStatus(session.status, out.colors)}  ` +
        out.colors.dim(
          `${formatCount(totalTokens(session.tokens), "token")}  ${formatPricedCost(session.tokens.costUsd, session.tokens.unpricedMessages)}  ${sessionHandle(session)}`,
        ),
    );
  }
}
