import { redactionRulesFile, type RedactionRulesFile } from "@logbook/contracts";

import { invalidInput } from "../errors.js";
import { readJsonFile } from "../json-file.js";
import { assignedNameBefore, DEFAULT_RULES, isNotASecret, isSecretName, type RedactionRule } from "./rules.js";

/** What replaces a secret: the rule's id stays, so a reader knows what was there. */
export const redactionMarker = (ruleId: string): string => `[REDACTED:${ruleId}]`;
const MARKER_START = "[REDACTED:";
/** Key names whose `isSecretName` verdict a redactor keeps, and how long such a name may be (memory stays under ~100 KB). */
const MAX_REMEMBERED_KEYS = 1_000;
const MAX_REMEMBERED_KEY_LENGTH = 64;

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
  private readonly secretKeys = new Map<string, boolean>();

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
    if (!this.enabled || !this.mayHoldSecret(text)) return { text, count: 0 };
    return this.replaceSecrets(text);
  }

  /**
   * Whether any rule could match: each trigger once, on the text as given. Most texts stop
   * here, and they allocate nothing on the way (a batch of 500 events walks ~4,400 strings).
   */
  private mayHoldSecret(text: string): boolean {
    if (text.length < 8) return false;
    if (this.anyUntriggered) return true;
    for (const trigger of this.triggers) if (trigger.test(text)) return true;
    return false;
  }

  private replaceSecrets(text: string): { text: string; count: number } {
    const fired = new Set(this.triggers.filter((t) => t.test(text)));
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
      if (key !== undefined && this.isSecretKey(key) && !node.startsWith(MARKER_START) && !isNotASecret(node, key)) {
        counter.count += 1;
        return redactionMarker(SECRET_FIELD_RULE);
      }
      return this.redactString(node, counter);
    }
    if (node === null || typeof node !== "object") return node;
    if (Array.isArray(node)) {
      const items = node as unknown[];
      let copy: unknown[] | undefined;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const next = this.walk(item, undefined, counter);
        if (next !== item) (copy ??= [...items])[i] = next;
      }
      return copy ?? node;
    }
    // Keys and values are only copied once one of them changed: most objects hold no secret.
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    let changed: Array<[string, unknown]> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const v = record[k];
      const redactedKey = this.redactString(k, counter);
      const redactedValue = this.walk(v, k, counter);
      if (changed === undefined && (redactedKey !== k || redactedValue !== v)) {
        changed = keys.slice(0, i).map((before): [string, unknown] => [before, record[before]]);
      }
      changed?.push([redactedKey, redactedValue]);
    }
    if (changed === undefined) return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of changed) {
      // defineProperty, not assignment: a "__proto__" key must stay a plain data key.
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** `text`, counting into `counter`: the same string back when nothing is replaced. */
  private redactString(text: string, counter: { count: number }): string {
    if (!this.mayHoldSecret(text)) return text;
    const redacted = this.replaceSecrets(text);
    counter.count += redacted.count;
    return redacted.text;
  }

  /**
   * `isSecretName`, remembered: payloads repeat a few dozen keys thousands of times. Bounded,
   * since keys come from clients: past the bound, names are checked each time.
   */
  private isSecretKey(key: string): boolean {
    let secret = this.secretKeys.get(key);
    if (secret === undefined) {
      secret = isSecretName(key);
      if (this.secretKeys.size < MAX_REMEMBERED_KEYS && key.length <= MAX_REMEMBERED_KEY_LENGTH)
        this.secretKeys.set(key, secret);
    }
    return secret;
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
