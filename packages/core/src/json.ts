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

/**
 * How many characters `sanitizeJsonForPostgres` and `cleanText` replace in a value: NUL
 * characters and lone surrogates in its strings and keys, at any depth. The caller is told
 * this number, so the one change made on the way in is never silent.
 */
export function unstorableCharacters(value: unknown): number {
  // Called for every field of every event: a string or a scalar costs no allocation.
  if (typeof value === "string") return unstorableIn(value);
  if (value === null || typeof value !== "object") return 0;
  let count = 0;
  // Iterative, like needsSanitizing.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === "string") {
      count += unstorableIn(node);
    } else if (node !== null && typeof node === "object") {
      if (Array.isArray(node)) {
        for (const item of node) stack.push(item);
      } else {
        const record = node as Record<string, unknown>;
        for (const key of Object.keys(record)) count += unstorableIn(key);
        for (const item of Object.values(record)) stack.push(item);
      }
    }
  }
  return count;
}

function unstorableIn(text: string): number {
  return UNSTORABLE_TEST.test(text) ? (text.match(UNSTORABLE)?.length ?? 0) : 0;
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
