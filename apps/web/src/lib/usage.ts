/** The usage view's logic: which rows the chart shows and how they are labelled. */
import { distinctShortLabels, shortPathNames } from "./names";
import type { UsageGrouping, UsageReport } from "./types";

export const GROUPINGS: Array<{ value: UsageGrouping; label: string }> = [
  { value: "day", label: "day" },
  { value: "project", label: "project" },
  { value: "model", label: "model" },
  { value: "machine", label: "machine" },
];

export interface ChartPoint {
  key: string;
  label: string;
  costUsd: number;
  tokens: number;
}

/**
 * Days in time order (oldest left, as a timeline reads); other groupings by cost, largest
 * first, at most `max` bars (the table below lists every row).
 */
export function chartPoints(report: Pick<UsageReport, "groupBy" | "rows">, max = 30): ChartPoint[] {
  const points = report.rows.map((row) => ({
    key: row.key,
    label: row.label ?? row.key,
    costUsd: row.costUsd,
    tokens: row.totalTokens,
  }));
  if (report.groupBy === "day" || report.groupBy === "week" || report.groupBy === "month") {
    return points.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(-max);
  }
  return points.sort((a, b) => b.costUsd - a.costUsd || b.tokens - a.tokens).slice(0, max);
}

/** The most characters of a label under a bar: what fits at the axis's angle, below the chart. */
export const AXIS_LABEL_CHARS = 20;

/**
 * The label under each bar (keyed by the point's key): short, and never the same for two
 * different bars. A project (labelled by its path) by the end of its path that tells it apart,
 * anything longer cut in the middle, so a model's date or a path's last folder stays.
 */
export function axisLabels(points: readonly ChartPoint[], groupBy: UsageGrouping): Map<string, string> {
  const paths = groupBy === "project" ? shortPathNames(points.map((p) => p.label)) : null;
  const labels = points.map((p) => paths?.get(p.label) ?? p.label);
  const shown = distinctShortLabels(labels, AXIS_LABEL_CHARS);
  return new Map(points.map((p, i) => [p.key, shown[i] ?? p.label]));
}
