import { InvalidArgumentError } from "commander";

/** The API's largest page. */
export const MAX_LIMIT = 500;

/** `--limit`: a whole number from 1 to 500 (the API's page size). */
export function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  return n;
}

/**
 * A comma-separated option's parser: `a,b , c` → `["a", "b", "c"]`. A value of nothing but commas
 * and spaces is refused with an example, rather than read as "no filter".
 */
export function listOf(example: string): (value: string) => string[] {
  return (value) => {
    const items = value
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part !== "");
    if (items.length === 0) throw new InvalidArgumentError(`give at least one, e.g. ${example}`);
    return items;
  };
}
