/**
 * Every API input refuses fields it does not know, by name, instead of dropping them: a
 * misspelt `projectID` or a field of a newer client silently stripped would be a changed
 * value with a 200. Checked over every object reachable from every procedure's input, so a
 * new contract cannot forget it. An object that keeps unknown fields on purpose (a hook
 * payload: Claude Code adds fields in every release) says so with `z.looseObject`.
 */
import { describe, expect, it } from "vitest";
import type { z } from "zod";

import { appRouter } from "./root.js";

type Def = z.core.$ZodTypeDef & Record<string, unknown>;

/** Every object schema reachable from `schema`, with its path inside the input. */
function objectsIn(schema: z.core.$ZodType): Array<{ path: string; def: z.core.$ZodObjectDef }> {
  const found: Array<{ path: string; def: z.core.$ZodObjectDef }> = [];
  const seen = new Set<z.core.$ZodType>();
  const visit = (node: z.core.$ZodType | undefined, path: string): void => {
    if (!node || seen.has(node)) return;
    seen.add(node);
    const def = node._zod.def as Def;
    switch (def.type) {
      case "object": {
        const objectDef = def as unknown as z.core.$ZodObjectDef;
        found.push({ path: path || "(input)", def: objectDef });
        for (const [key, value] of Object.entries(objectDef.shape)) visit(value, path ? `${path}.${key}` : key);
        visit(objectDef.catchall, `${path}.*`);
        return;
      }
      case "union":
        (def as unknown as z.core.$ZodUnionDef).options.forEach((option, index) => visit(option, `${path}|${index}`));
        return;
      case "intersection": {
        const { left, right } = def as unknown as z.core.$ZodIntersectionDef;
        visit(left, path);
        visit(right, path);
        return;
      }
      case "array":
        visit((def as unknown as z.core.$ZodArrayDef).element, `${path}[]`);
        return;
      case "record":
        visit((def as unknown as z.core.$ZodRecordDef).valueType, `${path}.*`);
        return;
      case "tuple": {
        const { items, rest } = def as unknown as z.core.$ZodTupleDef;
        items.forEach((item, index) => visit(item, `${path}[${index}]`));
        visit(rest ?? undefined, `${path}[]`);
        return;
      }
      case "pipe": {
        const { in: input, out } = def as unknown as z.core.$ZodPipeDef;
        visit(input, path);
        visit(out, path);
        return;
      }
      case "lazy":
        visit((def as unknown as z.core.$ZodLazyDef).getter(), path);
        return;
      default:
        // optional, nullable, default, prefault, readonly, catch, nonoptional: one inner type.
        visit((def as { innerType?: z.core.$ZodType }).innerType, path);
    }
  };
  visit(schema, "");
  return found;
}

const objects = Object.entries(appRouter._def.procedures).flatMap(([procedure, built]) =>
  (built as unknown as { _def: { inputs: z.core.$ZodType[] } })._def.inputs.flatMap((input) =>
    objectsIn(input).map(({ path, def }) => ({ at: `${procedure}: ${path}`, def })),
  ),
);

describe("API inputs", () => {
  it("are found (the checks below check something)", () => {
    expect(new Set(objects.map(({ at }) => at.split(":")[0])).size).toBeGreaterThan(40);
  });

  it("refuse unknown fields at every level (a strict object), or keep them on purpose (a loose one)", () => {
    // A plain z.object has no catchall: it would drop them.
    expect(objects.filter(({ def }) => def.catchall === undefined).map(({ at }) => at)).toEqual([]);
  });

  it("take the direction tRPC's infinite queries send wherever they take a cursor", () => {
    const paged = objects.filter(({ def }) => "cursor" in def.shape);
    expect(paged.map(({ at }) => at)).toEqual(
      expect.arrayContaining(["sessions.list: (input)", "events.search: (input)"]),
    );
    expect(paged.filter(({ def }) => !("direction" in def.shape)).map(({ at }) => at)).toEqual([]);
  });
});
