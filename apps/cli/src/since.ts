import { CliError, EXIT } from "./exit-codes.js";
import { startOfDay } from "./time.js";

const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * A point in time from `--since`/`--until`: an age (`30m`, `12h`, `7d`, `2w`, counted back
 * from `now`), a day (`2026-11-30`) or an ISO date-time with an offset. Returns an
 * ISO-8601 string in UTC, as the API takes it; a day is its midnight in `timeZone` (this
 * machine's, as every time the CLI prints), or, with `keepDays`, the day itself, for an API
 * that reads it in a time zone of its own.
 */
export function parseTimeArgument(
  value: string,
  option: string,
  { now = new Date(), keepDays = false, timeZone = "UTC" }: { now?: Date; keepDays?: boolean; timeZone?: string } = {},
): string {
  const [, count, unit = ""] = /^(\d+)([mhdw])$/.exec(value.trim()) ?? [];
  const perUnit = UNIT_SECONDS[unit];
  if (count !== undefined && perUnit !== undefined) {
    const time = new Date(now.getTime() - Number(count) * perUnit * 1000);
    // Far enough back, the date has no four-digit year (or none at all): no API takes it.
    if (!(time.getUTCFullYear() >= 1)) {
      throw new CliError(`${option} ${value}: reaches back before the year 1`, EXIT.usage);
    }
    return time.toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const day = new Date(`${value}T00:00:00Z`);
    if (!Number.isNaN(day.getTime()) && day.toISOString().startsWith(value)) {
      return keepDays ? value : startOfDay(value, timeZone);
    }
  } else if (/^\d{4}-\d{2}-\d{2}T.+(Z|[+-]\d{2}:?\d{2})$/i.test(value)) {
    const time = new Date(value);
    if (!Number.isNaN(time.getTime())) return time.toISOString();
  }
  throw new CliError(
    `${option} ${value}: expected an age such as 30m, 12h, 7d or 2w, a day such as 2026-11-30, or a date-time with an offset such as 2026-11-30T14:00:00Z`,
    EXIT.usage,
  );
}
