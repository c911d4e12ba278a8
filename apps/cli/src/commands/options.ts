import { InvalidArgumentError } from "commander";

/** `--limit`: a whole number from 1 to 500 (the API's page size). */
export function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidArgumentError("must be a whole number from 1 to 500");
  return n;
}

/** `a,b , c` → `["a", "b", "c"]`. */
export function splitList(value: string): string[] {
  return value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
}
