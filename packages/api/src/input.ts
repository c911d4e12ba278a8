import type { z } from "zod";

/**
 * For a procedure whose every input field is optional: no input at all (the SDK's bare
 * `query()`, a GET without `?input=`) means `{}`, so the defaults inside still apply.
 * `optional-input.test.ts` checks every procedure of the router uses it where it should.
 */
export function orNothing<T extends z.ZodObject>(schema: T) {
  return schema.prefault({} as z.input<T>);
}
