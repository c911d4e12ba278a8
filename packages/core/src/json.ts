/**
 * PostgreSQL's jsonb cannot hold the NUL character (`\u0000`) nor lone UTF-16
 * surrogates, and payloads come from tools that emit both. Rather than lose the event,
 * such characters are replaced with U+FFFD in string values and in keys. Returns the
 * input itself when nothing needs replacing (the common case: no copy).
 */
export function sanitizeJsonForPostgres<T>(value: T): T {
  return needsSanitizing(value) ? (cleanValue(value) as T) : value;
}

// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// eslint-disable-next-line no-control-regex
const UNSTORABLE_TEST = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function cleanText(text: string): string {
  return UNSTORABLE_TEST.test(text) ? text.replace(UNSTORABLE, "\uFFFD") : text;
}

function needsSanitizing(value: unknown): boolean {
  // Iterative: payload depth is capped by the contracts, but this must never overflow.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === "string") {
      if (UNSTORABLE_TEST.test(node)) return true;
    } else if (node !== null && typeof node === "object") {
      if (Array.isArray(node)) {
        for (const item of node) stack.push(item);
      } else {
        // Keys, then values: not Object.entries, whose pair per key was garbage of every
        // payload of every batch. Object.values reads a "__proto__" key's own value.
        const record = node as Record<string, unknown>;
        for (const key of Object.keys(record)) if (UNSTORABLE_TEST.test(key)) return true;
        for (const item of Object.values(record)) stack.push(item);
      }
    }
  }
  return false;
}

function cleanValue(value: unknown): unknown {
  if (typeof value === "string") return cleanText(value);
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(cleanValue);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    // defineProperty, not assignment: a "__proto__" key must stay a plain data key.
    Object.defineProperty(out, cleanText(key), {
      value: cleanValue(item),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
