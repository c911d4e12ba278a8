import { z } from "zod";

/** Flags a rule's pattern may carry: `g` and `d` are always added by the redactor itself. */
const RULE_FLAGS = /^[imsu]*$/;

function compiles(pattern: string, flags: string): boolean {
  try {
    new RegExp(pattern, flags);
    return true;
  } catch {
    return false;
  }
}

/**
 * One extra redaction rule (a line of the rules file `LOGBOOK_REDACTION_RULES_FILE` names).
 * The whole match is replaced by `[REDACTED:<id>]`; a pattern with a named group `secret`
 * replaces only that group (the text around it, e.g. a `name=`, is kept).
 */
export const redactionRule = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
      error: "must be lower-case letters, digits and - (at most 63 characters), e.g. acme-api-token",
    }),
    pattern: z.string().min(1, { error: "must not be empty" }).max(2000, { error: "must be at most 2000 characters" }),
    flags: z.string().regex(RULE_FLAGS, { error: "may only use the flags i, m, s and u" }).default(""),
    /**
     * Words (any case) one of which a text must contain before the pattern runs: a cheap
     * test that skips most texts. Empty: the pattern runs on every text.
     */
    keywords: z.array(z.string().min(1).max(100)).max(50).default([]),
  })
  .superRefine((rule, ctx) => {
    if (!RULE_FLAGS.test(rule.flags)) return;
    if (!compiles(rule.pattern, rule.flags)) {
      ctx.addIssue({ code: "custom", path: ["pattern"], message: "is not a valid JavaScript regular expression" });
      return;
    }
    // A pattern that matches nothing would be replaced everywhere, between every character.
    if (new RegExp(rule.pattern, rule.flags).test("")) {
      ctx.addIssue({ code: "custom", path: ["pattern"], message: "must not match the empty text" });
    }
  });
export type RedactionRuleInput = z.output<typeof redactionRule>;

/** The rules file: `{ "rules": [ … ] }`, ids unique. */
export const redactionRulesFile = z
  .object({ rules: z.array(redactionRule).max(500, { error: "must hold at most 500 rules" }) })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.rules.forEach((rule, index) => {
      if (seen.has(rule.id)) {
        ctx.addIssue({ code: "custom", path: ["rules", index, "id"], message: `"${rule.id}" is used twice` });
      }
      seen.add(rule.id);
    });
  });
export type RedactionRulesFile = z.output<typeof redactionRulesFile>;
