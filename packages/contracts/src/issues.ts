import type { z } from "zod";

/**
 * The one way Logbook says which fields of an input are wrong, wherever the input came
 * from: a tRPC call, the hook endpoint's body or headers, a CLI flag, an environment
 * variable. `path` is dotted (`events.0.eventType`) and empty for the input as a whole.
 */
export interface InputIssue {
  path: string;
  message: string;
  /** Zod's issue code (`invalid_type`, `too_big`, …). */
  code: string;
}

/**
 * Zod's issues as `InputIssue`s. `name` renames a dotted path for the caller's vocabulary
 * (a header name, a `--flag`, an environment variable). Union branches are not expanded:
 * their summary says enough.
 */
export function toInputIssues(error: z.core.$ZodError, name: (path: string) => string = (path) => path): InputIssue[] {
  return error.issues.map((issue) => ({
    path: name(issue.path.map(String).join(".")),
    message: issue.message,
    code: issue.code,
  }));
}

/** One issue as a line of text: `path: message`, or the message alone for the whole input. */
export function issueLine(issue: InputIssue): string {
  return issue.path ? `${issue.path}: ${issue.message}` : issue.message;
}

/** The first issue as a sentence, with how many more there are: the message of an invalid-input error. */
export function summarizeIssues(issues: readonly InputIssue[]): string {
  const first = issues[0];
  if (!first) return "the input does not match its contract";
  return issues.length > 1 ? `${issueLine(first)} (and ${issues.length - 1} more)` : issueLine(first);
}
