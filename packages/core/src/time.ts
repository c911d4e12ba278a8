/** Timestamps leave the core as ISO-8601 strings (UTC, `Z`). */
export function iso(date: Date): string;
export function iso(date: Date | null): string | null;
export function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

/** The millisecond timestamp inside a UUIDv7, or null for other versions. */
export function uuidV7Time(id: string): Date | null {
  if (id.length !== 36 || id[14] !== "7") return null;
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  return Number.isFinite(ms) ? new Date(ms) : null;
}
