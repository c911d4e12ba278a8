import type { z } from "zod";

import { invalidInput } from "./errors.js";

/**
 * Parses a service input with its contract. The API has already parsed it, but services
 * are also called directly (the server's scheduler, tests, other services), so each one
 * applies the contract's defaults and rules itself. Parsing is idempotent, so a parsed
 * value passes unchanged. A failure is an INVALID_INPUT that names every bad field.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: z.input<S>, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "input",
    message: issue.message,
  }));
  throw invalidInput(`invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, { issues });
}
