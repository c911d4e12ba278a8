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
  const stack: Frame[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = jsonStringEnd(text, i);
      if (end < 0) return null; // not JSON: the parser says why
      const top = stack[stack.length - 1];
      // A string directly inside an object, before its colon, is a key.
      if (top?.kind === "object" && top.key === null) top.key = [i, end + 1];
      i = end + 1;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      if (!match) return null;
      const token = match[0];
      if (!isExact(token)) return { path: pathOf(text, stack), number: token };
      i += token.length;
    } else {
      if (c === 0x7b /* { */) stack.push({ kind: "object", key: null });
      else if (c === 0x5b /* [ */) stack.push({ kind: "array", index: 0 });
      else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
      else if (c === 0x2c /* , */) {
        const top = stack[stack.length - 1];
        if (top?.kind === "array") top.index += 1;
        else if (top) top.key = null;
      }
      i += 1;
    }
  }
  return null;
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

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SHAPE = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

function pathOf(text: string, stack: readonly Frame[]): Array<string | number> {
  return stack.map((frame) => {
    if (frame.kind === "array") return frame.index;
    if (!frame.key) return "?";
    try {
      return JSON.parse(text.slice(frame.key[0], frame.key[1])) as string;
    } catch {
      return "?";
    }
  });
}

type Frame = { kind: "object"; key: [number, number] | null } | { kind: "array"; index: number };

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
