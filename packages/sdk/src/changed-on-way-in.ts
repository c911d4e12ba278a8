const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/**
 * What was changed in a session's or an event's stored text on its way in, as a person reads
 * it, or null when nothing was: secrets replaced by redaction (`redactions`), and characters
 * PostgreSQL cannot hold, a NUL or a lone UTF-16 surrogate, stored as U+FFFD
 * (`replacedCharacters`).
 *
 * @example
 * ```ts
 * changedOnWayIn({ redactions: 1, replacedCharacters: 3 }); // "1 secret redacted · 3 characters stored as U+FFFD"
 * ```
 */
export function changedOnWayIn(counts: { redactions: number; replacedCharacters: number }): string | null {
  const some = (n: number, one: string, many: string) => `${count.format(n)} ${n === 1 ? one : many}`;
  const parts: string[] = [];
  if (counts.redactions > 0) parts.push(`${some(counts.redactions, "secret", "secrets")} redacted`);
  if (counts.replacedCharacters > 0) {
    parts.push(`${some(counts.replacedCharacters, "character", "characters")} stored as U+FFFD`);
  }
  return parts.length === 0 ? null : parts.join(" · ");
}
