import fc from "fast-check";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

/**
 * Hostile values for fuzzing, and a schema-guided generator that walks a procedure's
 * Zod input schema so that fuzzed inputs carry the right field names (and often almost
 * valid values), reaching the services and the database rather than only the parser.
 */

/** Replaced by invalid UTF-8 bytes when a request body is serialised. */
export const RAW_BYTES_TOKEN = "\u0001RAWBYTES\u0001";
const INVALID_UTF8: Buffer[] = [
  Buffer.from([0xff]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]),
];

export const SQL_FRAGMENTS = [
  "'; DROP TABLE events; --",
  "' OR '1'='1",
  "1; SELECT pg_sleep(10)",
  "$$; DELETE FROM sessions; $$",
  "\\'; TRUNCATE api_keys CASCADE; --",
  "%' AND 1=1 --",
  "1) UNION SELECT key_hash FROM api_keys --",
];
export const PATHS = [
  "../../../../etc/passwd",
  "/etc/shadow",
  "..\\..\\windows\\system32\\config\\sam",
  "/tmp/../../root/.ssh/id_rsa",
  "file:///etc/passwd",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "a/\u0000/b",
  "./" + "../".repeat(200) + "etc/hosts",
];
const ODD_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "\uffff\ufffe",
  "🦀".repeat(50),
  "\u202e\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
  "<script>alert(1)</script>",
  "${jndi:ldap://127.0.0.1/x}",
  "{{7*7}}",
  "__proto__",
  "constructor",
  "\r\nSet-Cookie: x=y",
  RAW_BYTES_TOKEN,
  `x${RAW_BYTES_TOKEN}y`,
  "NaN",
  "Infinity",
  "-1",
  "9999-99-99T99:99:99Z",
  "2026-01-01T00:00:00.000Z",
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffff",
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ODD_STRINGS, ...SQL_FRAGMENTS, ...PATHS) },
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 10_000, 100_000, 300_000).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 50_000).map((n) => "\u0000".repeat(n)) },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1e308, -1e308, 2 ** 53 + 1, -(2 ** 63), 0.5, 1e-320, 2 ** 31, -(2 ** 31) - 1),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/**
 * A placeholder for arrays or objects nested `depth` deep: `serialise` writes the nesting
 * as text (building it as a value would overflow our own JSON.stringify's stack).
 */
export function deeplyNested(depth: number, kind: "array" | "object"): string {
  return `\u0002DEEP:${kind}:${depth}\u0002`;
}

function nestedText(kind: string, depth: number): string {
  return kind === "array"
    ? `${"[".repeat(depth)}"bottom"${"]".repeat(depth)}`
    : `${'{"a":'.repeat(depth)}"bottom"${"}".repeat(depth)}`;
}

const pollutionKeys = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "__defineGetter__",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "",
  "a.b",
  "$where",
  "\u0000",
  "x".repeat(1_000),
);

/** An object with own (not inherited) keys such as `__proto__`: `fromEntries` defines them as data. */
export function pollutedObject(inner: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .array(fc.tuple(pollutionKeys, inner), { minLength: 1, maxLength: 4 })
    .map((entries) =>
      Object.fromEntries(
        entries.map(([key, value]) => [
          key,
          key === "__proto__" || key === "constructor"
            ? { polluted: true, isAdmin: true, ...(typeof value === "object" ? {} : { v: value }) }
            : value,
        ]),
      ),
    );
}

export const hostileLeaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
);

/** Anything JSON can hold, with the hostile leaves, deep nesting and pollution keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileLeaf },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(10, 100, 1_000, 10_000, 100_000)
      .chain((d) => fc.constantFrom("array" as const, "object" as const).map((k) => deeplyNested(d, k))),
  },
  { weight: 1, arbitrary: pollutedObject(hostileLeaf) },
  { weight: 1, arbitrary: fc.array(hostileLeaf, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), hostileLeaf, { maxKeys: 5 }) },
);

/* ------------------------------------------------------------------ schema-guided */

interface ZodLike {
  _zod?: { def?: ZodDef };
}
interface ZodDef {
  type: string;
  shape?: Record<string, ZodLike>;
  innerType?: ZodLike;
  in?: ZodLike;
  out?: ZodLike;
  options?: ZodLike[];
  element?: ZodLike;
  left?: ZodLike;
  right?: ZodLike;
  valueType?: ZodLike;
  entries?: Record<string, string | number>;
  values?: unknown[];
  items?: ZodLike[];
}

function defOf(schema: unknown): ZodDef | undefined {
  return (schema as ZodLike | undefined)?._zod?.def;
}

const plausibleString = fc.oneof(
  fc.uuid(),
  fc.constantFrom(
    "note",
    "PreToolUse",
    "active",
    "completed",
    "Bash",
    "main",
    "/repo/src/index.ts",
    "2026-01-01T00:00:00.000Z",
    "text/plain",
    "utf8",
    "user",
    "assistant",
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
  fc
    .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
    .map((d) => d.toISOString()),
);

/**
 * Values for `schema`: mostly plausible (so some pass the contract and hit the database),
 * often hostile (wrong type, odd content), sometimes with extra polluting keys.
 */
export function guided(schema: unknown, depth = 0): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  const wrong = hostileValue;
  if (!def || depth > 6) return wrong;
  const mix = (plausible: fc.Arbitrary<unknown>) =>
    fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: wrong });
  switch (def.type) {
    case "object": {
      const shape = def.shape ?? {};
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, value] of Object.entries(shape)) record[key] = guided(value, depth + 1);
      const base = fc.record(record, { requiredKeys: [] });
      return mix(
        fc
          .tuple(base, fc.option(pollutedObject(hostileLeaf), { freq: 4 }))
          .map(([value, extra]) => (extra ? { ...extra, ...value } : value)),
      );
    }
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      return guided(def.innerType, depth);
    case "pipe":
      return guided(def.in, depth);
    case "union":
      return fc.oneof(...(def.options ?? []).map((o) => guided(o, depth + 1)));
    case "intersection":
      return fc
        .tuple(guided(def.left, depth + 1), guided(def.right, depth + 1))
        .map(([a, b]) =>
          typeof a === "object" && a !== null && typeof b === "object" && b !== null ? { ...a, ...b } : a,
        );
    case "array":
      return mix(fc.array(guided(def.element, depth + 1), { maxLength: depth === 0 ? 20 : 4 }));
    case "tuple":
      return mix(fc.tuple(...(def.items ?? []).map((i) => guided(i, depth + 1))));
    case "record":
      return mix(
        fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), pollutionKeys), guided(def.valueType, depth + 1), {
          maxKeys: 4,
        }),
      );
    case "enum":
      return mix(fc.constantFrom(...Object.values(def.entries ?? { x: "x" })));
    case "literal":
      return mix(fc.constantFrom(...(def.values ?? [null])));
    case "string":
      return mix(plausibleString);
    case "number":
    case "int":
      return mix(fc.oneof(fc.integer({ min: 0, max: 200 }), hostileNumber));
    case "boolean":
      return mix(fc.boolean());
    case "date":
      return mix(plausibleString);
    default:
      // unknown, any, lazy (JSON values): anything at all
      return fc.oneof(hostileValue, plausibleString, fc.jsonValue({ maxDepth: 3 }));
  }
}

/** The input of a procedure with `inputs` (tRPC merges several `.input()`s; we take the first). */
export function inputFor(inputs: readonly unknown[]): fc.Arbitrary<unknown> {
  if (inputs.length === 0) return fc.oneof(fc.constant(undefined), hostileValue);
  return fc.oneof({ weight: 5, arbitrary: guided(inputs[0]) }, { weight: 1, arbitrary: hostileValue });
}

/** JSON text of `value`, with every RAW_BYTES_TOKEN swapped for invalid UTF-8 bytes. */
export function serialise(value: unknown, pick = 0): string | Buffer {
  // A placeholder is a JSON string: the quotes around it go too.
  const text = JSON.stringify(value === undefined ? null : value).replace(
    /"\\u0002DEEP:(array|object):(\d+)\\u0002"/g,
    (_, kind: string, depth: string) => nestedText(kind, Number(depth)),
  );
  const token = JSON.stringify(RAW_BYTES_TOKEN).slice(1, -1);
  if (!text.includes(token)) return text;
  const parts = text.split(token);
  const chunks: Buffer[] = [];
  parts.forEach((part, i) => {
    chunks.push(Buffer.from(part, "utf8"));
    if (i < parts.length - 1) chunks.push(expectDefined(INVALID_UTF8[(pick + i) % INVALID_UTF8.length]));
  });
  return Buffer.concat(chunks);
}

/** A Claude Code hook payload with hostile fields (tool inputs with traversal paths, huge prompts, pollution keys…). */
export const hookPayload: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record(
        {
          session_id: fc.oneof(fc.uuid(), hostileString),
          hook_event_name: fc.oneof(
            fc.constantFrom(
              "PreToolUse",
              "PostToolUse",
              "UserPromptSubmit",
              "SessionStart",
              "SessionEnd",
              "Stop",
              "SubagentStop",
              "Notification",
              "PreCompact",
              "FutureEvent",
            ),
            hostileString,
          ),
          cwd: fc.oneof(fc.constantFrom(...PATHS), hostileString),
          transcript_path: fc.oneof(fc.constantFrom(...PATHS), hostileString),
          tool_name: fc.oneof(fc.constantFrom("Bash", "Edit", "Write", "Read"), hostileString),
          tool_input: fc.oneof(
            fc.record(
              {
                file_path: fc.oneof(fc.constantFrom(...PATHS), hostileString),
                command: fc.oneof(fc.constantFrom(...SQL_FRAGMENTS), hostileString),
                content: hostileString,
              },
              { requiredKeys: [] },
            ),
            hostileValue,
          ),
          tool_response: hostileValue,
          prompt: hostileString,
          message: hostileString,
          agent_id: hostileString,
          parent_session_id: fc.oneof(fc.uuid(), hostileString),
          usage: fc.oneof(fc.record({ input_tokens: hostileNumber, output_tokens: hostileNumber }), hostileValue),
        },
        { requiredKeys: [] },
      )
      .chain((payload) =>
        fc
          .option(pollutedObject(hostileLeaf), { freq: 3 })
          .map((extra) => (extra ? { ...extra, ...payload } : payload)),
      ),
  },
  { weight: 1, arbitrary: hostileValue },
);

export const hookHeaders: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    "x-logbook-event-id": fc.oneof(
      fc.uuid(),
      fc.constantFrom("not-a-uuid", "", "' OR 1=1 --", "00000000-0000-0000-0000-000000000000"),
    ),
    "x-logbook-occurred-at": fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom("yesterday", "9999-99-99", "", "0", "2026-13-45T25:61:61Z"),
    ),
    "x-logbook-machine-id": fc.oneof(
      fc.constantFrom("host-1", "../../etc", "' OR 1=1 --", "x".repeat(5_000)),
      fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
    ),
  },
  { requiredKeys: [] },
);
