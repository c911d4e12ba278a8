import { jsonStringEnd } from "@logbook/contracts";
import { AppError } from "@logbook/core";

/**
 * Numbers in a JSON body that JavaScript (and so the stored JSON) cannot hold exactly:
 * `1e400` would become Infinity (stored as null), `1e-400` 0, `12345678901234567890`
 * 12345678901234567000, `0.12345678901234567890` 0.12345678901234568. Such a body is refused
 * (400) naming the field and the number, rather than stored changed: send the value as a
 * string. Numbers that round-trip (`0.1`, `1.50`, `1e21`) pass.
 *
 * A scan of the text, not a second parse: strings are skipped with indexOf, so the cost is
 * in proportion to the structure, not the string bytes. It runs before JSON.parse, on the
 * same text, and tracks the path (keys and array indexes) only to name what it finds.
 */

/** The first number in `text` that would not survive JSON.parse unchanged, with its path; null when none. */
export function findInexactNumber(text: string): { path: Array<string | number>; number: string } | null {
  // The open objects and arrays as three parallel stacks of numbers (kind, then the current
  // key's bounds or the array index), not an object per level and an array per key: this
  // runs on every POST body, and what it allocated was garbage of every batch (see
  // docs/performance.md, "server memory under batches").
  const stack = new ScanStack();
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = jsonStringEnd(text, i);
      if (end < 0) return null; // not JSON: the parser says why
      // A string directly inside an object, before its colon, is a key.
      if (stack.depth > 0 && stack.isObjectWithoutKey()) stack.setKey(i, end + 1);
      i = end + 1;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const end = numberEnd(text, i);
      if (end < 0) return null;
      if (!digitsSurely(text, i, end)) {
        const token = text.slice(i, end);
        if (!isExact(token)) return { path: stack.path(text), number: token };
      }
      i = end;
    } else {
      if (c === 0x7b /* { */) stack.push(OBJECT);
      else if (c === 0x5b /* [ */) stack.push(ARRAY);
      else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
      else if (c === 0x2c /* , */) stack.next();
      i += 1;
    }
  }
  return null;
}

const OBJECT = 0;
const ARRAY = 1;

/** The scan's open containers: for an object the current key's bounds (-1: none yet), for an array its index. */
class ScanStack {
  depth = 0;
  private readonly kinds: number[] = [];
  private readonly a: number[] = [];
  private readonly b: number[] = [];

  push(kind: number): void {
    this.kinds[this.depth] = kind;
    this.a[this.depth] = kind === OBJECT ? -1 : 0;
    this.b[this.depth] = -1;
    this.depth += 1;
  }

  pop(): void {
    if (this.depth > 0) this.depth -= 1;
  }

  isObjectWithoutKey(): boolean {
    return this.kinds[this.depth - 1] === OBJECT && this.a[this.depth - 1] === -1;
  }

  setKey(start: number, end: number): void {
    this.a[this.depth - 1] = start;
    this.b[this.depth - 1] = end;
  }

  /** A comma: the next array element, or the next key of an object. */
  next(): void {
    if (this.depth === 0) return;
    const top = this.depth - 1;
    if (this.kinds[top] === ARRAY) this.a[top] = (this.a[top] ?? 0) + 1;
    else this.a[top] = -1;
  }

  path(text: string): Array<string | number> {
    const path: Array<string | number> = [];
    for (let d = 0; d < this.depth; d++) {
      const a = this.a[d] ?? -1;
      if (this.kinds[d] === ARRAY) path.push(a);
      else if (a < 0) path.push("?");
      else {
        try {
          path.push(JSON.parse(text.slice(a, this.b[d])) as string);
        } catch {
          path.push("?");
        }
      }
    }
    return path;
  }
}

/** `events[3].payload.usage.input_tokens` from a path. */
export function fieldPath(path: ReadonlyArray<string | number>): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

/**
 * The INVALID_INPUT error for a body holding a number that cannot be kept exactly, or
 * null. In a tRPC batch (`batch`), the first key is the call's index.
 */
export function inexactNumberError(text: string, batch = false): AppError | null {
  const found = findInexactNumber(text);
  if (!found) return null;
  const [first, ...rest] = found.path;
  const field = batch && first !== undefined ? fieldPath(rest) : fieldPath(found.path);
  const where = batch && first !== undefined ? `call ${String(first)}: ${field || "input"}` : field || "the body";
  return new AppError(
    "INVALID_INPUT",
    `${where}: the number ${found.number} cannot be stored exactly (JSON numbers here are 64-bit floating point); send it as a string`,
    { details: { field: field || null, number: found.number, ...(batch ? { call: Number(first) } : {}) } },
  );
}

const SHAPE = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * Where the number starting at `start` ends, as `-?\d+(\.\d+)?([eE][+-]?\d+)?` matches it
 * (a fraction or exponent without digits is not part of it); -1 when no digit follows.
 */
function numberEnd(text: string, start: number): number {
  let at = start;
  if (text.charCodeAt(at) === 0x2d) at += 1;
  const whole = digitsEnd(text, at);
  if (whole === at) return -1;
  at = whole;
  if (text.charCodeAt(at) === 0x2e /* . */) {
    const fraction = digitsEnd(text, at + 1);
    if (fraction > at + 1) at = fraction;
  }
  const e = text.charCodeAt(at);
  if (e === 0x65 || e === 0x45) {
    let k = at + 1;
    const sign = text.charCodeAt(k);
    if (sign === 0x2b || sign === 0x2d) k += 1;
    const exponent = digitsEnd(text, k);
    if (exponent > k) at = exponent;
  }
  return at;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** Where the run of digits from `from` ends. */
function digitsEnd(text: string, from: number): number {
  let k = from;
  while (k < text.length && isDigit(text.charCodeAt(k))) k += 1;
  return k;
}

/**
 * Whether the number `text[start, end)` surely round-trips without looking closer: up to 15
 * significant digits and no exponent (DBL_DIG), what nearly every number is.
 */
function digitsSurely(text: string, start: number, end: number): boolean {
  let digits = 0;
  for (let k = start; k < end; k++) {
    const c = text.charCodeAt(k);
    if (isDigit(c)) digits++;
    else if (c === 0x65 || c === 0x45) return false;
  }
  return digits <= 15;
}

/** Whether JSON.parse gives back the same value the text wrote. */
function isExact(token: string): boolean {
  // Up to 15 significant digits without an exponent always round-trip (DBL_DIG).
  let digits = 0;
  for (let k = 0; k < token.length; k++) {
    const c = token.charCodeAt(k);
    if (c >= 0x30 && c <= 0x39) digits++;
    else if (c === 0x65 || c === 0x45) {
      digits = 99;
      break;
    }
  }
  if (digits <= 15) return true;
  const value = Number(token);
  if (!Number.isFinite(value)) return false;
  return canonical(token) === canonical(String(value));
}

/** sign, significant digits and exponent, without leading or trailing zeros. */
function canonical(number: string): string {
  const m = SHAPE.exec(number.replace("e+", "e"));
  const whole = m?.[2];
  if (!m || whole === undefined) return number;
  const fraction = m[3] ?? "";
  let significant = (whole + fraction).replace(/^0+/, "");
  let exponent = Number(m[4] ?? 0) - fraction.length;
  if (significant === "") return "0";
  const trimmed = significant.replace(/0+$/, "");
  exponent += significant.length - trimmed.length;
  significant = trimmed;
  return `${m[1]}${significant}e${exponent}`;
}
