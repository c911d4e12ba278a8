/** Usage: cost and tokens per day, project, model or machine, as a bar chart and a table. */
import { useQuery } from "@tanstack/react-query";
import { AxisBottom, AxisLeft } from "@visx/axis";
import { Group } from "@visx/group";
import { scaleBand, scaleLinear } from "@visx/scale";
import { Bar } from "@visx/shape";
import { useCallback, useId, useMemo } from "react";
import { useLocation, useSearch } from "wouter";

import { Empty, ErrorState, Loading } from "../components";
import { formatCost, formatTokens } from "../lib/format";
import type { UsageGrouping } from "../lib/types";
import {
  axisLabels,
  chartPoints,
  GROUPINGS,
  PERIODS,
  usageChoicesFromSearch,
  usageChoicesToSearch,
  type ChartPoint,
  type UsageChoices,
} from "../lib/usage";
import { useTRPC } from "../trpc";

const DAY_MS = 24 * 60 * 60 * 1000;

export default function UsageView() {
  const trpc = useTRPC();
  const groupId = useId();
  const periodId = useId();
  // The choices live in the query string, like the sessions list's filters: a reload or a
  // shared link shows the same report. Replaced, not pushed: Back leaves the view.
  const search = useSearch();
  const [, navigate] = useLocation();
  const { groupBy, period } = useMemo(() => usageChoicesFromSearch(search), [search]);
  const choose = useCallback(
    (next: UsageChoices) => {
      const query = usageChoicesToSearch(next);
      navigate(query === "" ? "/usage" : `/usage?${query}`, { replace: true });
    },
    [navigate],
  );
  // Fixed when the period is chosen, so a re-render does not ask for a new report each time.
  const from = useMemo(
    () => (period.days === null ? undefined : new Date(Date.now() - period.days * DAY_MS).toISOString()),
    [period],
  );
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const report = useQuery(
    trpc.usage.report.queryOptions({ groupBy, timeZone, limit: 1000, ...(from === undefined ? {} : { from }) }),
  );
  const points = useMemo(() => (report.data ? chartPoints(report.data) : []), [report.data]);

  return (
    <section aria-labelledby="usage-heading">
      <div className="view-head">
        <h1 id="usage-heading">Usage</h1>
        <span className="muted">{period.label}</span>
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor={groupId}>Per</label>
        <select
          id={groupId}
          value={groupBy}
          onChange={(e) => choose({ groupBy: e.target.value as UsageGrouping, period })}
        >
          {GROUPINGS.map((g) => (
            <option key={g.value} value={g.value}>
              {g.label}
            </option>
          ))}
        </select>
        <label htmlFor={periodId}>Over</label>
        <select
          id={periodId}
          value={period.label}
          onChange={(e) => choose({ groupBy, period: PERIODS.find((p) => p.label === e.target.value) ?? period })}
        >
          {PERIODS.map((p) => (
            <option key={p.label} value={p.label}>
              {p.label}
            </option>
          ))}
        </select>
      </form>
      {report.isPending ? (
        <Loading what="usage" />
      ) : report.isError ? (
        <ErrorState error={report.error} what="usage" />
      ) : report.data.rows.length === 0 ? (
        <Empty>{period.days === null ? "No usage stored yet." : `No usage in the ${period.label}.`}</Empty>
      ) : (
        <>
          <p>
            Total: <strong>{formatCost(report.data.totals.costUsd, report.data.totals.unpricedMessages)}</strong>,{" "}
            {formatTokens(report.data.totals.totalTokens)} tokens in {report.data.totals.sessions} sessions (prices{" "}
            {report.data.priceTableVersion}).
          </p>
          <CostChart points={points} groupBy={groupBy} title={`Cost per ${groupBy}`} />
          <div className="table-scroll">
            <table>
              <caption>Cost and tokens per {groupBy}</caption>
              <thead>
                <tr>
                  <th scope="col">{groupBy}</th>
                  <th scope="col" className="num">
                    Sessions
                  </th>
                  <th scope="col" className="num">
                    Input
                  </th>
                  <th scope="col" className="num">
                    Output
                  </th>
                  <th scope="col" className="num">
                    Cache write
                  </th>
                  <th scope="col" className="num">
                    Cache read
                  </th>
                  <th scope="col" className="num">
                    Total tokens
                  </th>
                  <th scope="col" className="num">
                    Cost
                  </th>
                </tr>
              </thead>
              <tbody>
                {report.data.rows.map((row) => (
                  <tr key={row.key}>
                    <th scope="row">{row.label ?? row.key}</th>
                    <td className="num">{row.sessions}</td>
                    <td className="num">{formatTokens(row.inputTokens)}</td>
                    <td className="num">{formatTokens(row.outputTokens)}</td>
                    <td className="num">{formatTokens(row.cacheCreationTokens)}</td>
                    <td className="num">{formatTokens(row.cacheReadTokens)}</td>
                    <td className="num">{formatTokens(row.totalTokens)}</td>
                    <td className="num">{formatCost(row.costUsd, row.unpricedMessages)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

const WIDTH = 720;
const HEIGHT = 260;
/** Room below for a label of AXIS_LABEL_CHARS at the axis's angle; at the left for the first one. */
const MARGIN = { top: 10, right: 10, bottom: 90, left: 70 };
const LABEL_ANGLE = -35;

/**
 * A bar per row; the table under it carries the same numbers (and the full names) for screen
 * readers. A label under a bar is short but never the same as another's; hovering it, or the
 * bar, shows the full name.
 */
function CostChart({ points, groupBy, title }: { points: ChartPoint[]; groupBy: UsageGrouping; title: string }) {
  const innerWidth = WIDTH - MARGIN.left - MARGIN.right;
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = scaleBand({ domain: points.map((p) => p.key), range: [0, innerWidth], padding: 0.2 });
  const y = scaleLinear({
    domain: [0, Math.max(...points.map((p) => p.costUsd), 0.01)],
    range: [innerHeight, 0],
    nice: true,
  });
  const labels = axisLabels(points, groupBy);
  const fullNames = new Map(points.map((p) => [labels.get(p.key) ?? p.key, p.label]));
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${title} (bar chart; the table below has the numbers)`}
      >
        <Group left={MARGIN.left} top={MARGIN.top}>
          {points.map((p) => {
            const barHeight = innerHeight - (y(p.costUsd) ?? 0);
            return (
              <Bar
                key={p.key}
                className="bar"
                x={x(p.key)}
                y={innerHeight - barHeight}
                width={x.bandwidth()}
                height={barHeight}
              >
                <title>{`${p.label}: ${formatCost(p.costUsd)}, ${formatTokens(p.tokens)} tokens`}</title>
              </Bar>
            );
          })}
          <AxisLeft
            scale={y}
            numTicks={5}
            tickFormat={(v) => formatCost(Number(v))}
            stroke="currentColor"
            tickStroke="currentColor"
            tickLabelProps={{ fill: "currentColor", fontSize: 11 }}
          />
          <AxisBottom
            top={innerHeight}
            scale={x}
            tickFormat={(k) => labels.get(String(k)) ?? String(k)}
            stroke="currentColor"
            tickStroke="currentColor"
            // Drawn here rather than by visx's own text, to carry the full name as a tooltip.
            tickComponent={({ x, y, formattedValue }) => (
              <text
                x={x}
                y={y}
                dy="0.3em"
                fill="currentColor"
                fontSize={10}
                textAnchor="end"
                transform={`rotate(${LABEL_ANGLE} ${x} ${y})`}
                className="axis-label"
              >
                <title>{fullNames.get(formattedValue ?? "") ?? formattedValue}</title>
                {formattedValue}
              </text>
            )}
          />
        </Group>
      </svg>
      <figcaption>{title}</figcaption>
    </figure>
  );
}
