import type { Check } from "../checks.js";

/** Failing checks as one readable message (empty when all hold). */
export function failedChecks(checks: Check[]): string {
  return checks
    .filter((c) => !c.ok)
    .map((c) => `${c.suite}: ${c.what}: ${c.figure}`)
    .join("\n");
}
