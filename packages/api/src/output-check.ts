/**
 * The output check of the read procedures, made cheaper without changing what it lets out
 * (issue 15: over the timeline pages, tRPC's output check with the Zod contract was the
 * largest single item of the server's CPU, docs/performance.md, `outcheck`).
 *
 * Zod's parse of an object builds a new object, key by key, in the schema's order: for a
 * 200-event page that is 200 objects of 20 fields made only to be serialised and dropped.
 * `checkedOutput(schema)` first asks a guard derived from the same Zod schema whether the
 * value is already exactly what the parse would give back: plain objects holding exactly the
 * schema's keys in the schema's order, each value one the schema accepts as it is (a type,
 * an enum member, a format's own regular expression, a custom check's own function). Then
 * the value itself is the answer: its JSON is the parse's, byte for byte. Anything else (a
 * missing, extra or reordered key, a value the guard cannot vouch for, a schema kind the
 * guard does not know) goes to Zod's parse, which accepts, strips, reorders or refuses
 * exactly as before, with the same issues. So the guard only ever says "yes" to values the
 * parse accepts unchanged; the Zod schema stays the one source of what is allowed.
 */
import type { z } from "zod";

type Guard = (value: unknown) => boolean;

/** What a check of the schema's own kinds looks like inside Zod 4 (`schema._zod.def`). */
interface ZodDefLike {
  type: string;
  checks?: Array<{ _zod: { def: CheckDefLike } }>;
  shape?: Record<string, ZodLike>;
  catchall?: unknown;
  element?: ZodLike;
  innerType?: ZodLike;
  entries?: Record<string, unknown>;
  fn?: (value: unknown) => unknown;
  format?: string;
  pattern?: RegExp;
  coerce?: boolean;
}
interface CheckDefLike {
  check: string;
  format?: string;
  value?: unknown;
  inclusive?: boolean;
  when?: unknown;
}
interface ZodLike {
  _zod: { def: ZodDefLike; traits: Set<string> };
}

/** String formats whose whole check is `def.pattern.test(value)` (Zod 4's `$ZodCheckStringFormat`). */
const PATTERN_FORMATS = ["$ZodISODateTime", "$ZodUUID", "$ZodGUID"];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A guard for `schema`, or null when its kind (or one of its parts') is not one whose
 * acceptance the guard can repeat exactly: then the caller uses Zod's parse alone.
 */
export function guardFor(schema: ZodLike): Guard | null {
  const def = schema._zod.def;
  const traits = schema._zod.traits;
  if (def.coerce === true) return null;
  // Checks other than the ones below (refinements, lengths, …) are left to Zod.
  const checks = def.checks ?? [];
  switch (def.type) {
    case "string": {
      if (checks.length > 0) return null;
      if (def.format === undefined) return (value) => typeof value === "string";
      const pattern = def.pattern;
      if (pattern === undefined || pattern.global || pattern.sticky) return null;
      if (!PATTERN_FORMATS.some((trait) => traits.has(trait))) return null;
      return (value) => typeof value === "string" && pattern.test(value);
    }
    case "number": {
      if (def.format !== undefined) return null;
      let integer = false;
      let min = -Infinity;
      for (const check of checks) {
        const c = check._zod.def;
        if (c.when !== undefined) return null;
        if (c.check === "number_format" && c.format === "safeint") integer = true;
        else if (c.check === "greater_than" && c.inclusive === true && typeof c.value === "number")
          min = Math.max(min, c.value);
        else return null;
      }
      return integer
        ? (value) => Number.isSafeInteger(value) && (value as number) >= min
        : (value) => typeof value === "number" && Number.isFinite(value) && value >= min;
    }
    case "boolean":
      return checks.length > 0 ? null : (value) => typeof value === "boolean";
    case "unknown":
      return checks.length > 0 ? null : () => true;
    case "enum": {
      if (checks.length > 0 || def.entries === undefined) return null;
      const values = Object.values(def.entries);
      // Zod's enum takes the entries' values; a numeric TypeScript enum's reverse keys are
      // among them, which a plain list does not handle alike: only string members here.
      if (!values.every((v) => typeof v === "string")) return null;
      const members = new Set<unknown>(values);
      return (value) => members.has(value);
    }
    case "nullable": {
      const inner = checks.length > 0 || def.innerType === undefined ? null : guardFor(def.innerType);
      return inner === null ? null : (value) => value === null || inner(value);
    }
    case "custom": {
      const fn = def.fn;
      if (checks.length > 0 || fn === undefined) return null;
      // Zod passes the value on unchanged when its own function says yes (sync only here).
      return (value) => {
        const ok = fn(value);
        return ok instanceof Promise ? false : Boolean(ok);
      };
    }
    case "array": {
      const element = checks.length > 0 || def.element === undefined ? null : guardFor(def.element);
      if (element === null) return null;
      return (value) => {
        if (!Array.isArray(value)) return false;
        for (let i = 0; i < value.length; i++) if (!element(value[i])) return false;
        return true;
      };
    }
    case "object": {
      if (checks.length > 0 || def.catchall !== undefined || def.shape === undefined) return null;
      const keys = Object.keys(def.shape);
      const guards: Guard[] = [];
      for (const key of keys) {
        const field = def.shape[key];
        const guard = field === undefined ? null : guardFor(field);
        if (guard === null) return null;
        guards.push(guard);
      }
      return (value) => {
        if (!isPlainObject(value)) return false;
        // Exactly the schema's keys in its order: then the parse's new object (built in the
        // schema's order, unknown keys stripped) serialises as this one does.
        let i = 0;
        for (const key in value) {
          if (key !== keys[i]) return false;
          i++;
        }
        if (i !== keys.length) return false;
        for (let k = 0; k < keys.length; k++) {
          if (!(guards[k] as Guard)(value[keys[k] as string])) return false;
        }
        return true;
      };
    }
    default:
      return null;
  }
}

/**
 * An output parser for tRPC's `.output()`: the value as it is when the guard derived from
 * `schema` vouches for it, else `schema.parse` (which answers as it always did).
 */
export function checkedOutput<T extends z.ZodType>(schema: T): T {
  const guard = guardFor(schema);
  if (guard === null) return schema;
  // Why a derived object: tRPC calls `parse` (and types the procedure from the schema's
  // `_input`/`_output`); everything else a caller reads still comes from the schema.
  const checked = Object.create(schema) as T;
  Object.defineProperty(checked, "parse", {
    value: (value: unknown, params?: Parameters<T["parse"]>[1]) => (guard(value) ? value : schema.parse(value, params)),
  });
  return checked;
}
