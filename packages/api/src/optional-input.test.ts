/**
 * A procedure whose every input field is optional must also accept no input at all:
 * `sessions.list` with nothing (as the SDK sends `query()` and curl sends a bare GET) was a
 * 400 "expected object". Checked over every procedure of the router, so a new one cannot
 * forget it.
 */
import { describe, expect, it } from "vitest";

import { appRouter } from "./root.js";

type Parser = { safeParse?: (value: unknown) => { success: boolean } };

const procedures = Object.entries(appRouter._def.procedures).map(([path, procedure]) => ({
  path,
  inputs: (procedure as unknown as { _def: { inputs: Parser[] } })._def.inputs,
}));

describe("procedures whose every field is optional", () => {
  const optional = procedures.filter(
    ({ inputs }) => inputs.length > 0 && inputs.every((parser) => parser.safeParse?.({}).success === true),
  );

  it("are found (the check below checks something)", () => {
    expect(optional.map((p) => p.path)).toContain("sessions.list");
  });

  it.each(optional.map((p) => [p.path, p.inputs] as const))("%s accepts no input", (_path, inputs) => {
    for (const parser of inputs) expect(parser.safeParse?.(undefined).success).toBe(true);
  });
});
