import { redactionRulesFile, type RedactionRulesFile } from "@logbook/contracts";

import { invalidInput } from "../errors.js";
import { readJsonFile } from "../json-file.js";
import { assignedNameBefore, DEFAULT_RULES, isNotASecret, isSecretName, type RedactionRule } from "./rules.js";

/** What replaces a secret: the rule's id stays, so a reader knows what was there. */
export const redactionMarker = (ruleId: string): string => `[REDACTED:${ruleId}]`;
const MARKER_START = "[REDACTED:";

/** The rule id for a JSON string value whose key names a secret (`"password": "…"`). */
export const SECRET_FIELD_RULE = "secret-field";

export interface RedactorOptions {
  /** Off stores everything as given. @default true */
  enabled?: boolean;
  /** Rules run after the built-in ones (a rules file, `readRedactionRulesFile`). @default [] */
  extraRules?: readonly RedactionRule[];
}

/**
 * Replaces secrets in text and in JSON values before anything is stored. Pure: no I/O, no
 * state between calls. A value with nothing to replace comes back as the very same object
 * (no copy), so the common case costs a walk and a few substring tests.
 *
 * JSON is walked value by value, never as serialized text: a replacement can never break
 * the JSON, and a string value whose key names a secret (`password`, `apiKey`,
 * `client_secret`, …) is replaced whole.
 */
export class Redactor {
  readonly enabled: boolean;
  private readonly rules: readonly RedactionRule[];
  /** The distinct triggers, and whether any rule runs always (then no text is skipped). */
  private readonly triggers: readonly RegExp[];
  private readonly anyUntriggered: boolean;

  constructor(options: RedactorOptions = {}) {
    this.enabled = options.enabled ?? true;
    // `g` to find every match, `d` for the offsets of the `secret` group.
    this.rules = [...DEFAULT_RULES, ...(options.extraRules ?? [])].map((rule) => ({
      ...rule,
      pattern: new RegExp(rule.pattern.source, [...new Set(`${rule.pattern.flags}gd`)].join("")),
    }));
    this.triggers = [...new Set(this.rules.flatMap((r) => (r.trigger ? [r.trigger] : [])))];
    this.anyUntriggered = this.rules.some((r) => r.trigger === null);
  }

  /** The ids of the rules in force, in the order they run (none when off). */
  get ruleIds(): string[] {
    return this.enabled ? [...new Set([...this.rules.map((r) => r.id), SECRET_FIELD_RULE])] : [];
  }

  /** The text with every secret replaced, and how many were. */
  text(text: string): { text: string; count: number } {
    if (!this.enabled || text.length < 8) return { text, count: 0 };
    // Each trigger once, on the text as given: most texts stop here.
    const fired = new Set(this.triggers.filter((t) => t.test(text)));
    if (fired.size === 0 && !this.anyUntriggered) return { text, count: 0 };
    let out = text;
    let count = 0;
    for (const rule of this.rules) {
      if (rule.trigger && !fired.has(rule.trigger)) continue;
      let result = "";
      let last = 0;
      for (const match of out.matchAll(rule.pattern)) {
        // Every pattern gets the d flag above, so indices are always there.
        const span = match.indices?.groups?.secret ?? match.indices?.[0];
        if (!span) continue;
        const [start, end] = span;
        if (end <= start || start < last) continue;
        const found = out.slice(start, end);
        // Already replaced by an earlier rule (`TOKEN=[REDACTED:github-token]`).
        if (found.includes(MARKER_START)) continue;
        if (rule.byName && isNotASecret(found, assignedNameBefore(out, start))) continue;
        result += out.slice(last, start) + redactionMarker(rule.id);
        last = end;
        count += 1;
      }
      if (last > 0) out = result + out.slice(last);
    }
    return { text: out, count };
  }

  /** A JSON value with every secret replaced (keys included), and how many were. */
  json<T>(value: T): { value: T; count: number } {
    if (!this.enabled) return { value, count: 0 };
    const counter = { count: 0 };
    const result = this.walk(value, undefined, counter) as T;
    return { value: result, count: counter.count };
  }

  /**
   * Recursive: every payload is parsed with the contracts' `jsonObject`, which caps the
   * depth at 64 levels before any value reaches here.
   */
  private walk(node: unknown, key: string | undefined, counter: { count: number }): unknown {
    if (typeof node === "string") {
      if (key !== undefined && isSecretName(key) && !node.startsWith(MARKER_START) && !isNotASecret(node, key)) {
        counter.count += 1;
        return redactionMarker(SECRET_FIELD_RULE);
      }
      const { text, count } = this.text(node);
      counter.count += count;
      return text;
    }
    if (node === null || typeof node !== "object") return node;
    if (Array.isArray(node)) {
      const items = node as unknown[];
      let copy: unknown[] | undefined;
      items.forEach((item, i) => {
        const next = this.walk(item, undefined, counter);
        if (next !== item) (copy ??= [...items])[i] = next;
      });
      return copy ?? node;
    }
    const entries = Object.entries(node as Record<string, unknown>);
    let changed = false;
    const next = entries.map(([k, v]): [string, unknown] => {
      const redactedKey = this.text(k);
      const redactedValue = this.walk(v, k, counter);
      counter.count += redactedKey.count;
      if (redactedKey.text !== k || redactedValue !== v) changed = true;
      return [redactedKey.text, redactedValue];
    });
    if (!changed) return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of next) {
      // defineProperty, not assignment: a "__proto__" key must stay a plain data key.
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

/** Rules from a parsed rules file, checked against the built-in ids. */
export function compileRedactionRules(file: RedactionRulesFile): RedactionRule[] {
  const builtIn = new Set([...DEFAULT_RULES.map((r) => r.id), SECRET_FIELD_RULE]);
  const taken = file.rules.find((r) => builtIn.has(r.id));
  if (taken) throw invalidInput(`rule id "${taken.id}" is a built-in rule's: choose another`, { id: taken.id });
  return file.rules.map((r) => ({
    id: r.id,
    pattern: new RegExp(r.pattern, r.flags),
    trigger:
      r.keywords.length === 0
        ? null
        : new RegExp(r.keywords.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "i"),
  }));
}

/**
 * Reads an extra rules file (JSON, the `redactionRulesFile` contract). Every problem is an
 * INVALID_INPUT naming the file and what is wrong: the server refuses to start with it.
 */
export function readRedactionRulesFile(path: string): RedactionRule[] {
  const file = readJsonFile(path, "redaction rules file", "a valid rules file", redactionRulesFile);
  try {
    return compileRedactionRules(file);
  } catch (error) {
    throw invalidInput(`redaction rules file ${path} is not a valid rules file: ${(error as Error).message}`, { path });
  }
}
