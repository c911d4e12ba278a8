import { readFileSync } from "node:fs";

import type { z } from "zod";

import { invalidInput } from "./errors.js";

/**
 * Reads a settings file the server is pointed at (a price table, redaction rules) and parses
 * it with its contract. Every problem is an INVALID_INPUT that names the file and what is
 * wrong, so the server can refuse to start with one clear line. `what` names the file:
 * `"price file"`, `"redaction rules file"`; `kind` what it should hold.
 */
export function readJsonFile<S extends z.ZodType>(path: string, what: string, kind: string, schema: S): z.output<S> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw invalidInput(`${what} ${path} cannot be read (${typeof code === "string" ? code : "error"})`, { path });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalidInput(`${what} ${path} is not valid JSON: ${(error as Error).message}`, { path });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "(top level)"}: ${i.message}`);
    throw invalidInput(`${what} ${path} is not ${kind}: ${problems.join("; ")}`, { path, problems });
  }
  return parsed.data;
}
