/** Timestamps leave the core as ISO-8601 strings (UTC, `Z`). */
export function iso(date: Date): string;
export function iso(date: Date | null): string | null;
export function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

/**
 * The Unix epoch as an event time means "no time known": the importer gives it to the
 * lines of a transcript that has no timestamp at all (a stable value, so a re-import finds
 * them again). Such events are stored at that time, but never move a session's times, and
 * what is derived from them is dated when it arrived: no 1970-01-01 in any report.
 */
export function isUnknownTime(date: Date): boolean {
  return date.getTime() === 0;
}

/** The last instant with a four-digit year: what ISO-8601 times in the contracts can say. */
const LAST_FOUR_DIGIT_YEAR_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * The millisecond timestamp inside a UUIDv7, or null for other versions, for ids that are
 * not RFC 9562 (variant bits other than 10: event ids may be any 8-4-4-4-12 hex, and a 7 in
 * the version place of such an id says nothing about time), and for times after year 9999:
 * 48 bits reach year 10889, which no clock that made an id is at (and whose ISO form,
 * `+010590-…`, PostgreSQL does not read).
 */
export function uuidV7Time(id: string): Date | null {
  if (id.length !== 36 || id[14] !== "7" || !"89abAB".includes(id.charAt(19))) return null;
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  return Number.isFinite(ms) && ms <= LAST_FOUR_DIGIT_YEAR_MS ? new Date(ms) : null;
}
