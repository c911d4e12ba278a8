/**
 * Times for people, in one time zone: this machine's (`TZ`, else the system's), in every
 * command, named where they are printed (README, "Times"). `--json` keeps the API's ISO
 * instants in UTC, which a program reads without knowing any zone.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The time zone of this machine (`TZ` when set), UTC when it cannot be known. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

interface WallClock {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

/** What a wall clock in `timeZone` read at `ms`. */
function wallClock(ms: number, timeZone: string): WallClock {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      // h23: midnight is 00, never 24 (what `hour12: false` gives in some engines).
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  const clock: WallClock = { year: "", month: "", day: "", hour: "", minute: "", second: "" };
  for (const part of formatter.formatToParts(ms)) {
    if (part.type in clock) clock[part.type as keyof WallClock] = part.value;
  }
  clock.year = clock.year.padStart(4, "0");
  return clock;
}

/** "2026-12-01 14:02" in `timeZone`. */
export function formatTimestamp(iso: string, timeZone: string): string {
  const c = wallClock(Date.parse(iso), timeZone);
  return `${c.year}-${c.month}-${c.day} ${c.hour}:${c.minute}`;
}

/** "14:02:07" in `timeZone` (a timeline line; its day is a heading above it). */
export function formatTimeOfDay(iso: string, timeZone: string): string {
  const c = wallClock(Date.parse(iso), timeZone);
  return `${c.hour}:${c.minute}:${c.second}`;
}

/** "2026-12-01", the calendar day in `timeZone`. */
export function formatDay(iso: string, timeZone: string): string {
  const c = wallClock(Date.parse(iso), timeZone);
  return `${c.year}-${c.month}-${c.day}`;
}

/** How far `timeZone`'s wall clock is ahead of UTC at `ms`, in milliseconds. */
function offsetAt(ms: number, timeZone: string): number {
  const c = wallClock(ms, timeZone);
  const asUtc = Date.UTC(Number(c.year), Number(c.month) - 1, Number(c.day), Number(c.hour), Number(c.minute));
  return asUtc - Math.floor(ms / 60_000) * 60_000;
}

/**
 * The instant a day (`2026-11-30`) begins in `timeZone`, as ISO UTC. The offset is taken at
 * UTC's midnight and again at the first guess, so a day that starts beside a daylight-saving
 * change lands right; where the change skips midnight itself, the earlier guess falls on the
 * day before, and the first minute that exists is taken.
 */
export function startOfDay(day: string, timeZone: string): string {
  const utcMidnight = Date.parse(`${day}T00:00:00Z`);
  const first = utcMidnight - offsetAt(utcMidnight, timeZone);
  const second = utcMidnight - offsetAt(first, timeZone);
  const onTheDay = [second, first].filter((ms) => formatDay(new Date(ms).toISOString(), timeZone) === day);
  return new Date(Math.min(...(onTheDay.length > 0 ? onTheDay : [first]))).toISOString();
}
