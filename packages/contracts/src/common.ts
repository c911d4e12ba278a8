import { z } from "zod";

import { isStoredJsonText } from "./json-text.js";

/** Limits shared by every contract; the API reference (docs/api.md) quotes them. */
export const LIMITS = {
  /** Events in one ingest call. */
  maxBatch: 1000,
  /** Rows in one page of any list. */
  maxPageSize: 500,
  /** Nesting depth of any JSON payload or metadata object. */
  maxJsonDepth: 64,
  shortText: 255,
  title: 1_000,
  /** Long free text: a prompt, a message, an error. */
  longText: 1_000_000,
  path: 4_096,
} as const;

const NUL = "\u0000";

/** Text for a text column: PostgreSQL cannot store NUL characters, so they are refused up front. */
export const text = (max: number = LIMITS.longText) =>
  z
    .string()
    .max(max, { error: `must be at most ${max} characters` })
    .refine((value) => !value.includes(NUL), { error: "must not contain NUL characters" });

export const shortText = () => text(LIMITS.shortText);
export const nonEmptyShortText = () => shortText().trim().min(1, { error: "must not be empty" });

export const uuid = () => z.uuid({ error: "must be a UUID" });

/**
 * An event's id: any 32 hex digits in the 8-4-4-4-12 form, as PostgreSQL's uuid type takes
 * them. Transcript lines written by other tools carry uuids that are not RFC 9562 (version 0,
 * other variant bits); the line's uuid is its event id, or `parentUuid` links to it break.
 */
export const eventId = () => z.guid({ error: "must be a UUID (32 hex digits as 8-4-4-4-12)" });

/** Timestamps cross the wire as ISO-8601 strings with an offset (`Z` on output). */
export const isoDateTime = () =>
  z.iso.datetime({ offset: true, error: "must be an ISO-8601 date-time, e.g. 2026-11-22T14:00:00Z" });

/**
 * ISO-8601 writes the year before 1 as 0000; PostgreSQL's calendar has no year 0 and refuses it
 * with a vague "out of range". Input date-times refuse it here, by name; output schemas keep
 * `isoDateTime` (a refinement would take the read pages' output check off its fast path).
 */
const YEAR_ZERO = "0000";
const YEAR_ZERO_ERROR = "the year 0000 does not exist in PostgreSQL's calendar; the earliest is 0001";

/** A date-time as an input that is stored or compared in PostgreSQL: `isoDateTime` without the year 0000. */
export const storedDateTime = () =>
  isoDateTime().refine((value) => !value.startsWith(YEAR_ZERO), {
    error: YEAR_ZERO_ERROR,
    // Only for a value that is a date-time otherwise: `0000-01-01` is told what shape to use, once.
    when: (payload) => payload.issues.length === 0,
  });

/** A calendar day `YYYY-MM-DD` (read in a time zone the input names) or a date-time with an offset. */
export const dayOrDateTime = () =>
  z
    .union([z.iso.date(), z.iso.datetime({ offset: true })], {
      error: "must be a day (2026-11-30) or an ISO-8601 date-time with an offset, e.g. 2026-11-22T14:00:00Z",
    })
    .refine((value) => !value.startsWith(YEAR_ZERO), { error: YEAR_ZERO_ERROR });

/** An open set of names (event types, job types): a letter, then letters, digits, `_.:-`. */
export const typeName = () =>
  z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/, {
    error: "must start with a letter and use only letters, digits, _ . : - (at most 100 characters)",
  });

function depthOf(value: unknown): number {
  // Iterative, so a hostile 100,000-level payload cannot overflow the stack. Nodes and their
  // depths in two stacks, not a pair per node: this runs on every payload of every batch.
  let max = 0;
  const nodes: unknown[] = [value];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop();
    const depth = depths.pop() ?? 0;
    if (node === null || typeof node !== "object") continue;
    const next = depth + 1;
    if (next > max) max = next;
    if (max > LIMITS.maxJsonDepth) return max;
    for (const child of Array.isArray(node) ? node : Object.values(node as Record<string, unknown>)) {
      if (child !== null && typeof child === "object") {
        nodes.push(child);
        depths.push(next);
      }
    }
  }
  return max;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A JSON object kept exactly as given (no key is copied, renamed or dropped, so a
 * `__proto__` key stays a plain data key), at most `LIMITS.maxJsonDepth` deep.
 */
export const jsonObject = () =>
  z
    .custom<Record<string, unknown>>(isPlainObject, { error: "must be a JSON object" })
    .refine((value) => depthOf(value) <= LIMITS.maxJsonDepth, {
      error: `must not be nested deeper than ${LIMITS.maxJsonDepth} levels`,
    });

/** True exactly for the values `jsonObject()` accepts, without a Zod parse (see hooks.ts). */
export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  isPlainObject(value) && depthOf(value) <= LIMITS.maxJsonDepth;

/** True exactly for the strings `text(max)` accepts. */
export const isText = (value: unknown, max: number): value is string =>
  typeof value === "string" && value.length <= max && !value.includes(NUL);

/**
 * A stored JSON object on its way out (an event's payload, a session's metadata): checked to
 * be an object and passed on as it is. Not `z.record`, which copies every key into a new
 * object, so it dropped a `__proto__` key (assigning it sets the copy's prototype) and cost a
 * 200-event timeline page milliseconds of copying (docs/performance.md); its depth was
 * checked when it came in. A `StoredJsonText` (the object still as jsonb's text, see
 * json-text.ts) holds one too when its text is an object's.
 */
export const storedJsonObject = () =>
  z.custom<Record<string, unknown>>(
    (value) => isPlainObject(value) || (isStoredJsonText(value) && value.text.startsWith("{")),
    { error: "must be a JSON object" },
  );

/** Any JSON value, depth-limited like `jsonObject`. */
export const jsonValue = () =>
  z.unknown().refine((value) => depthOf(value) <= LIMITS.maxJsonDepth, {
    error: `must not be nested deeper than ${LIMITS.maxJsonDepth} levels`,
  });

/**
 * An object that an API caller sends: a field it does not know is refused by name, not
 * dropped. Stripping it would answer 200 to a misspelt `projectID` or to a newer client's
 * field as if it had been kept. Objects that keep unknown fields on purpose (a hook payload,
 * a transcript line: their writers add fields in every release) are `z.looseObject`;
 * `strict-input.test.ts` in `@logbook/api` checks every input of the router is one or the other.
 */
export function inputObject<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  return z.strictObject(shape, { error: unknownFieldsMessage });
}

function unknownFieldsMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== "unrecognized_keys") return undefined;
  const unknown = issue.keys.map((key) => JSON.stringify(key)).join(", ");
  const known = Object.keys((issue.inst as z.ZodObject | undefined)?.shape ?? {});
  const takes = known.length > 0 ? `it takes ${known.join(", ")}` : "it takes no fields";
  return `unknown field${issue.keys.length > 1 ? "s" : ""} ${unknown}: ${takes}`;
}

/** Keyset pagination: pass back `nextCursor` to get the next page. */
export const pageInput = {
  limit: z.number().int().min(1).max(LIMITS.maxPageSize).default(50),
  cursor: z.string().max(500).optional(),
  /**
   * tRPC's infinite queries (the dashboard's, any TanStack Query client's) send the way they
   * page with every call. Pages here only go forward from the cursor, so that is the one taken.
   */
  direction: z.literal("forward", { error: 'must be "forward": pages go one way, on from the cursor' }).optional(),
};

export const page = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    /** Null on the last page. */
    nextCursor: z.string().nullable(),
  });

export const idInput = inputObject({ id: uuid() });
export type IdInput = z.output<typeof idInput>;

export const eventIdInput = inputObject({ id: eventId() });
export type EventIdInput = z.infer<typeof eventIdInput>;

export const tokenUsage = z.object({
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  cacheReadTokens: z.number().int().min(0),
  cacheCreationTokens: z.number().int().min(0),
  /** USD, of the priced messages only. */
  costUsd: z.number().min(0),
  /** Messages with tokens but no known price (unknown model): not in `costUsd`, not free. */
  unpricedMessages: z.number().int().min(0),
});
export type TokenUsage = z.infer<typeof tokenUsage>;

/**
 * For an input with a `from` and a `to`: `to` must come after `from`. A reversed range is a
 * mistake to name (`to: must be later than from`), not a question whose answer is nothing.
 * Use as `.refine(rangeInOrder, RANGE_OUT_OF_ORDER)`.
 */
export function rangeInOrder(input: { from?: string | undefined; to?: string | undefined }): boolean {
  return !input.from || !input.to || Date.parse(input.from) < Date.parse(input.to);
}
export const RANGE_OUT_OF_ORDER = { error: "must be later than from", path: ["to"] };
