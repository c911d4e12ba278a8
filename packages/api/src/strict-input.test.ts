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

/** Paths (inside one input) of the objects that would strip unknown fields. */
function strippingObjects(schema: z.core.$ZodType): string[] {
  const found: string[] = [];
  const seen = new Set<z.core.$ZodType>();
  const visit = (node: z.core.$ZodType | undefined, path: string): void => {
    if (!node || seen.has(node)) return;
    seen.add(node);
    const def = node._zod.def as Def;
    switch (def.type) {
      case "object": {
        const { shape, catchall } = def as unknown as z.core.$ZodObjectDef;
        if (catchall === undefined) found.push(path || "(input)");
        for (const [key, value] of Object.entries(shape)) visit(value, path ? `${path}.${key}` : key);
        visit(catchall, `${path}.*`);
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
      default: {
        // optional, nullable, default, prefault, readonly, catch, nonoptional: one inner type.
        const inner = (def as { innerType?: z.core.$ZodType }).innerType;
        visit(inner, path);
      }
    }
  };
  visit(schema, "");
  return found;
}

const procedures = Object.entries(appRouter._def.procedures).map(([path, procedure]) => ({
  path,
  inputs: (procedure as unknown as { _def: { inputs: z.core.$ZodType[] } })._def.inputs,
}));

describe("API inputs", () => {
  it("are found (the check below checks something)", () => {
    expect(procedures.filter((p) => p.inputs.length > 0).length).toBeGreaterThan(40);
  });

  it("refuse unknown fields at every level", () => {
    const stripping = procedures.flatMap(({ path, inputs }) =>
      inputs.flatMap((input) => strippingObjects(input).map((at) => `${path}: ${at}`)),
    );
    expect(stripping).toEqual([]);
  });
});
