/** The usage view's logic: which rows the chart shows and how they are labelled. */
import { distinctShortLabels, shortPathNames } from "./names";
import type { UsageGrouping, UsageReport } from "./types";

export const GROUPINGS: Array<{ value: UsageGrouping; label: string }> = [
  { value: "day", label: "day" },
  { value: "project", label: "project" },
  { value: "model", label: "model" },
  { value: "machine", label: "machine" },
];

/** The periods the view offers, in days back from now (null: everything stored). */
export const PERIODS = [
  { days: 7, label: "last 7 days" },
  { days: 30, label: "last 30 days" },
  { days: 90, label: "last 90 days" },
  { days: 365, label: "last 365 days" },
  { days: null, label: "all time" },
] as const;
export type Period = (typeof PERIODS)[number];

export interface UsageChoices {
  groupBy: UsageGrouping;
  period: Period;
}

const DEFAULT_CHOICES: UsageChoices = { groupBy: "day", period: PERIODS[1] };

/**
 * The view's choices from its query string (`per=model&over=90`, `over=all`): a link or a
 * reload shows the same report. Anything unknown is the default (per day, last 30 days).
 */
export function usageChoicesFromSearch(search: string): UsageChoices {
  const params = new URLSearchParams(search);
  const per = params.get("per");
  const over = params.get("over");
  return {
    groupBy: GROUPINGS.find((g) => g.value === per)?.value ?? DEFAULT_CHOICES.groupBy,
    period: PERIODS.find((p) => String(p.days ?? "all") === over) ?? DEFAULT_CHOICES.period,
  };
}

/** The query string for `choices`, without the defaults ("" for per day, last 30 days). */
export function usageChoicesToSearch(choices: UsageChoices): string {
  const params = new URLSearchParams();
  if (choices.groupBy !== DEFAULT_CHOICES.groupBy) params.set("per", choices.groupBy);
  if (choices.period !== DEFAULT_CHOICES.period) params.set("over", String(choices.period.days ?? "all"));
  return params.toString();
}

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
