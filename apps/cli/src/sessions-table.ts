import { formatAgo, formatPricedCost, formatNumber, sessionHandle, sessionName, totalTokens } from "./format.js";
import type { Colors, Output } from "./output.js";
import type { Project, Session } from "./types.js";

/** A status word, colored by what it asks of the person: waiting for them stands out. */
export function formatStatus(status: Session["status"], colors: Colors): string {
  switch (status) {
    case "waiting_input":
      return colors.bold(colors.yellow("waiting_input"));
    case "active":
    case "initializing":
      return colors.green(status);
    case "failed":
      return colors.red(status);
    // Ended without a clean end (quiet for a day, or a SessionEnd of another reason): over,
    // not broken, so it does not stand out as a failure does.
    case "terminated":
    case "completed":
    case "cancelled":
    case "idle":
      return colors.dim(status);
    default:
      return status;
  }
}

/** A cell for what is not known: never blank, so every row has a value under every heading. */
const UNKNOWN = "-";

/**
 * The sessions table of `sessions` and `search`. PROJECT is the session's project by name
 * (`projectsOf`), not the folder its agent was in: a subagent started in `packages/types`
 * belongs to its parent's project.
 */
export function printSessions(
  out: Output,
  sessions: readonly Session[],
  projects: ReadonlyMap<string, Project>,
  now: Date = new Date(),
): void {
  if (sessions.length === 0) {
    out.line("no sessions");
    return;
  }
  const head = ["STATUS", "SESSION", "NAME", "PROJECT", "MACHINE", "ACTIVE", "TOKENS", "COST"];
  const rows = sessions.map((s) => [
    formatStatus(s.status, out.colors),
    sessionHandle(s),
    sessionName(s, 48),
    (s.projectId !== null ? projects.get(s.projectId)?.name : undefined) ?? UNKNOWN,
    s.machineId ?? UNKNOWN,
    formatAgo(s.lastActivityAt, now),
    formatNumber(totalTokens(s.tokens)),
    formatPricedCost(s.tokens.costUsd, s.tokens.unpricedMessages),
  ]);
  out.printTable(head, rows, {
    alignRight: [6, 7],
    shrink: [{ column: 2 }, { column: 3, min: 10 }],
    // On a narrow terminal, what tells the sessions apart and which wait for you stays.
    drop: [4, 6, 3, 7],
  });
}
