import { randomUUID } from "node:crypto";

import {
  StoredJsonText,
  event,
  eventPage,
  eventSummary,
  eventSummaryPage,
  isoDateTime,
  listSessionsInput,
  session,
  sessionPage,
  storedJsonObject,
  text,
} from "@logbook/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";

import { checkedOutput, guardFor } from "./output-check.js";
import { setUpRouterTests } from "./test-kit.js";

type Schema = z.ZodType;
type ZodInternals = Parameters<typeof guardFor>[0];
const guardOf = (schema: Schema) => guardFor(schema);

/** Strings the date-time and uuid formats must take or refuse: near misses of both. */
const nearMissStrings = [
  "2026-02-29T00:00:00.000Z", // not a leap year
  "2024-02-29T00:00:00.000Z",
  "2026-04-31T10:00:00Z",
  "2026-12-02T24:00:00.000Z",
  "2026-12-02T10:00:00.000",
  "2026-12-02T10:00:00.000+01:00",
  "2026-12-02T10:00:00.000+1:00",
  "2026-12-02 10:00:00.000Z",
  "+012026-12-02T10:00:00.000Z",
  "2026-12-02T10:00:00.000Z\n",
  "0000-02-29T00:00:00Z",
  "",
  "00000000-0000-0000-0000-000000000000",
  "0193a2b4-0000-7000-8000-00000000000g",
  "0193A2B4-0000-7000-8000-000000000000",
];

/**
 * Values for `schema` built from the schema itself (the same kinds the guard knows): `clean`,
 * values of the shape the DTOs make; otherwise mostly that, with near misses, moved, missing
 * and extra keys and anything at all mixed in at every level.
 */
function valuesOf(schema: Schema, clean: boolean): fc.Arbitrary<unknown> {
  const def = (schema as unknown as ZodInternals)._zod.def;
  const wrong = fc.oneof(
    fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withTypedArray: true }),
    fc.constantFrom<unknown>(NaN, Infinity, -Infinity, -0, 1.5, -1, 2 ** 53, undefined, null, [], {}, new Date(0)),
    fc.constantFrom(...nearMissStrings),
  );
  let right: fc.Arbitrary<unknown>;
  switch (def.type) {
    case "string":
      right =
        def.format === "datetime"
          ? fc.oneof(
              fc
                .date({ min: new Date(Date.UTC(0, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true })
                .map((d) => d.toISOString()),
              fc.constantFrom(...(clean ? ["2026-12-02T10:00:00.000Z"] : nearMissStrings)),
            )
          : def.format === "uuid" || def.format === "guid"
            ? fc.oneof(
                fc.uuid(),
                fc.constantFrom(...(clean ? ["0193a2b4-0000-7000-8000-000000000000"] : nearMissStrings)),
              )
            : fc.string({ unit: "binary" });
      break;
    case "number":
      right = clean
        ? (def.checks ?? []).length > 0
          ? fc.integer({ min: 0, max: 2 ** 40 })
          : fc.double({ min: 0, max: 1e6, noNaN: true })
        : fc.oneof(fc.integer({ min: -5, max: 2 ** 40 }), fc.double(), fc.maxSafeInteger());
      break;
    case "boolean":
      right = fc.boolean();
      break;
    case "unknown":
      right = fc.jsonValue();
      break;
    case "enum":
      right = fc.constantFrom(...Object.values(def.entries ?? { none: "none" }), ...(clean ? [] : ["other"]));
      break;
    case "nullable":
      right = fc.option(valuesOf(def.innerType as unknown as Schema, clean), { nil: null });
      break;
    case "custom":
      // storedJsonObject: plain objects, stored text (an object's or not), other objects.
      right = clean
        ? fc.oneof(
            fc.object(),
            fc.object().map((o) => new StoredJsonText(JSON.stringify(o))),
          )
        : fc.oneof(
            fc.object(),
            fc.object().map((o) => new StoredJsonText(JSON.stringify(o))),
            fc.jsonValue().map((v) => new StoredJsonText(JSON.stringify(v))),
            fc.constant(Object.create(null) as object),
            fc.constant(new Map()),
          );
      break;
    case "array":
      right = fc.array(valuesOf(def.element as unknown as Schema, clean), { maxLength: 4 });
      break;
    case "object": {
      const shape = def.shape ?? {};
      const keys = Object.keys(shape);
      const fields = fc.tuple(...keys.map((key) => valuesOf(shape[key] as unknown as Schema, clean)));
      right = fc
        .tuple(
          fields,
          clean ? fc.constant(0) : fc.nat({ max: 9 }),
          fc.nat({ max: keys.length }),
          fc.nat({ max: keys.length }),
        )
        .map(([values, how, i, j]) => {
          const entries: Array<[string, unknown]> = keys.map((key, k) => [key, values[k]]);
          // Most as the DTOs make them; some with a key missing, extra, undefined or moved.
          if (how === 1) entries.splice(i, 1);
          if (how === 2) entries.splice(i, 0, ["extra", values[0]]);
          if (how === 3 && entries[i]) entries[i] = [entries[i][0], undefined];
          if (how === 4 && entries[i] && entries[j]) [entries[i], entries[j]] = [entries[j], entries[i]];
          if (how === 5) entries.push(["__proto__", {}]);
          const object = how === 6 ? (Object.create(null) as Record<string, unknown>) : {};
          for (const [key, value] of entries)
            Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
          return how === 7 ? Object.assign(Object.create({ inherited: 1 }) as object, object) : object;
        });
      break;
    }
    default:
      throw new Error(`no values for ${def.type}`);
  }
  return clean ? right : fc.oneof({ arbitrary: right, weight: 12 }, { arbitrary: wrong, weight: 1 });
}

function outcome(
  run: () => unknown,
): { ok: true; json: string | undefined; value: unknown } | { ok: false; issues: unknown } {
  try {
    const value = run();
    return { ok: true, json: JSON.stringify(value), value };
  } catch (error) {
    return { ok: false, issues: (error as z.ZodError).issues };
  }
}

describe("checkedOutput", () => {
  const schemas: Array<[string, Schema]> = [
    ["event", event],
    ["eventSummary", eventSummary],
    ["eventPage", eventPage],
    ["eventSummaryPage", eventSummaryPage],
    ["session", session],
    ["sessionPage", sessionPage],
  ];

  it.each(schemas)(
    "accepts and refuses exactly as Zod's parse of %s, with the same answer and issues",
    (_name, schema) => {
      const checked = checkedOutput(schema);
      const guard = guardOf(schema);
      expect(guard).not.toBeNull();
      let guarded = 0;
      let refused = 0;
      fc.assert(
        fc.property(fc.oneof(valuesOf(schema, true), valuesOf(schema, false)), (value) => {
          const said = guard?.(value) ?? false;
          const parsed = outcome(() => schema.parse(value));
          const fast = outcome(() => checked.parse(value));
          if (said) guarded++;
          if (!parsed.ok) refused++;
          // The guard vouches only for values the parse accepts unchanged (same JSON).
          if (said) expect(parsed).toMatchObject({ ok: true, json: JSON.stringify(value) });
          expect(fast.ok).toBe(parsed.ok);
          if (fast.ok && parsed.ok) {
            expect(fast.json).toBe(parsed.json);
            expect(fast.value).toEqual(parsed.value);
          } else {
            expect(fast).toEqual(parsed);
          }
        }),
        { numRuns: 400, seed: 15 },
      );
      // Both paths were taken: the property says something about each.
      expect(guarded).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0);
    },
    180_000, // a deadline: at load ~60 the first schema took 55 s (8 s at load ~10)
  );

  it("leaves to Zod alone any schema with a part whose check it cannot repeat", () => {
    const unknownParts: Schema[] = [
      text(), // a refinement
      z.string().min(1),
      z.number().max(3),
      z.object({ a: z.string().optional() }),
      z.object({ a: z.string() }).passthrough(),
      z.object({ a: z.string() }).strict(),
      z.object({ at: isoDateTime(), meta: storedJsonObject(), n: z.coerce.number() }),
      z.string().email(),
      z.union([z.string(), z.number()]),
      z.string().default("x"),
      z.array(z.string()).max(2),
    ];
    for (const schema of unknownParts) {
      expect(guardOf(schema)).toBeNull();
      expect(checkedOutput(schema)).toBe(schema);
    }
  });
});

describe("the read services' answers", () => {
  const t = setUpRouterTests();

  it("are already what the contract's parse gives back, so the guard passes them on as they are", async () => {
    const externalSessionId = `s-${randomUUID()}`;
    const id = randomUUID();
    await t.ingest.events.ingest({
      events: [
        { id, externalSessionId, eventType: "Note", message: "hello", payload: { b: 1, a: [true, null] } },
        { externalSessionId, eventType: "Tool", toolName: "Bash", level: "warning", payload: {} },
      ],
    });
    const { services } = t.kit;
    const one = await services.events.get({ id });
    const page = { sessionId: one.sessionId, limit: 50 };
    const answers: Array<[Schema, unknown]> = [
      [event, one],
      [eventPage, await services.events.listForSession(page)],
      [eventPage, await services.events.listForSession(page, { payloadText: true })],
      [eventSummaryPage, await services.events.listSummariesForSession(page)],
      [eventPage, await services.events.listRecent({ limit: 50 })],
      [session, await services.sessions.get({ id: one.sessionId })],
      [sessionPage, await services.sessions.list(listSessionsInput.parse({ limit: 50 }))],
    ];
    for (const [schema, answer] of answers) {
      expect(JSON.stringify(answer)).toBe(JSON.stringify(schema.parse(answer)));
      expect(guardOf(schema)?.(answer)).toBe(true);
      expect(checkedOutput(schema).parse(answer)).toBe(answer);
    }
  });
});
