/**
 * A stored JSON object still in the text PostgreSQL wrote for it (`payload::text`), and the
 * writer that puts such text into an answer without parsing it into objects and
 * serialising them again (issue 15: a 200-event timeline page carries ~230 kB of payloads,
 * and the parse in the driver, the objects' garbage and `JSON.stringify` were most of what
 * the page cost the server beyond its query).
 *
 * The answer must be byte for byte what `JSON.stringify` of the parsed object gives, so
 * `compactJsonbText` only passes text through when it can tell, in one scan, that it is:
 * jsonb's output differs from `JSON.stringify` by a space after `:` and `,` (removed), by
 * numbers JavaScript writes differently (`1.50`, `1e-7`, more than 15 digits) and by keys
 * JavaScript reorders (integer-like keys go first in an object); for those two the text is
 * parsed and serialised as before. Strings are escaped the same way by both (`\"`, `\\`,
 * `\b\f\n\r\t`, other control characters as `\u00xx`; jsonb holds no NUL and no lone
 * surrogate), so they are copied as they are.
 */

const BRAND = Symbol.for("logbook.storedJsonText");

/** A stored JSON object as jsonb's text. Anything that serialises it without `stringifyJson` gets the parsed object. */
export class StoredJsonText {
  readonly [BRAND] = true;
  constructor(readonly text: string) {}

  /** Why: a plain `JSON.stringify` (any writer but ours) must still give the object's JSON. */
  toJSON(): unknown {
    return sink ? sink(this.text) : (JSON.parse(this.text) as unknown);
  }
}

export function isStoredJsonText(value: unknown): value is StoredJsonText {
  return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/** Set only while `stringifyJson` runs (synchronously): where `toJSON` hands its text. */
let sink: ((text: string) => string) | null = null;

/**
 * `JSON.stringify(value)`, with each `StoredJsonText` in it written as the JSON of its
 * parsed object, its text passed through when `compactJsonbText` allows.
 */
export function stringifyJson(value: unknown): string {
  const texts: string[] = [];
  sink = (text) => {
    texts.push(text);
    return MARKER;
  };
  let written: string;
  try {
    written = JSON.stringify(value);
  } finally {
    sink = null;
  }
  if (texts.length === 0) return written;
  const parts = written.split(MARKER_JSON);
  // The marker holds a random id per process: user text cannot hold it unless it read this
  // process's memory; if it ever did, the parts would not match and the slow path answers.
  if (parts.length !== texts.length + 1) return JSON.stringify(value);
  let out = parts[0] ?? "";
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i] ?? "";
    out += (compactJsonbText(text) ?? JSON.stringify(JSON.parse(text))) + (parts[i + 1] ?? "");
  }
  return out;
}

// A control character keeps it from being mistaken for text (JSON writes it as \u0001).
const MARKER = `\u0001logbook-stored-json:${crypto.randomUUID()}`;
const MARKER_JSON = JSON.stringify(MARKER);

/**
 * `JSON.stringify(JSON.parse(text))` for jsonb's output `text`, without the parse; null
 * when the text has something only the parse writes right (a number JavaScript writes
 * otherwise, a key starting with a digit, anything that is not an object).
 */
export function compactJsonbText(text: string): string | null {
  if (text.charCodeAt(0) !== 0x7b /* { */) return null;
  const n = text.length;
  let out = "";
  let from = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = jsonStringEnd(text, i);
      if (end < 0) return null;
      // A key (a string followed by `:`) that starts with a digit may be one JavaScript
      // orders first (an array index): the parse decides.
      if (text.charCodeAt(end + 1) === 0x3a /* : */) {
        const first = text.charCodeAt(i + 1);
        if (first >= 0x30 && first <= 0x39) return null;
      }
      i = end + 1;
    } else if (c === 0x20 /* space: jsonb writes one after `:` and `,`, nowhere else outside strings */) {
      out += text.slice(from, i);
      from = i + 1;
      i += 1;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0];
      if (token === undefined || !writtenAlike(token)) return null;
      i += token.length;
    } else {
      i += 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// An integer, or a decimal without trailing zeros; at most 15 significant digits (these
// round-trip through a double unchanged) and, below 1, at most five zeros after the point
// (JavaScript writes 1e-7 from there on).
const PLAIN = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;

/** Whether JavaScript writes the number `token` (jsonb's output) exactly as it is. */
function writtenAlike(token: string): boolean {
  if (!PLAIN.test(token)) return false;
  const unsigned = token.charCodeAt(0) === 0x2d ? token.slice(1) : token;
  if (unsigned === "0") return token === "0";
  const point = unsigned.indexOf(".");
  if (point < 0) return unsigned.length <= 15;
  const whole = unsigned.slice(0, point);
  const fraction = unsigned.slice(point + 1);
  if (whole !== "0") return whole.length + fraction.length <= 15;
  const significant = fraction.replace(/^0+/, "");
  return fraction.length - significant.length <= 5 && significant.length <= 15;
}

/**
 * Index of the quote closing the JSON string whose opening quote is at `start`, or -1: the
 * string skipped with indexOf, so a scan costs in proportion to the structure, not the text
 * (also the server's scan for inexact numbers, exact-numbers.ts).
 */
export function jsonStringEnd(text: string, start: number): number {
  let at = start + 1;
  for (;;) {
    const quote = text.indexOf('"', at);
    if (quote < 0) return -1;
    let backslashes = 0;
    for (let j = quote - 1; j > start && text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return quote;
    at = quote + 1;
  }
}
