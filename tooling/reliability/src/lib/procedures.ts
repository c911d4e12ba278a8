import { readFileSync } from "node:fs";

import { appRouter } from "@logbook/api";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

export type Kind = "query" | "mutation" | "subscription";
export type Access = "public" | "any" | "ingest" | "read" | "admin";

export interface ProcedureInfo {
  path: string;
  kind: Kind;
  /** The scope the API reference (packages/api/README.md) documents; its own test checks it against the router. */
  access: Access;
  /** The Zod schemas of `.input()` (empty when the procedure takes none). */
  inputs: unknown[];
}

const README = new URL("../../../../packages/api/README.md", import.meta.url);

/** Every procedure of the real router, with its kind, documented scope and input schemas. */
export function listProcedures(): ProcedureInfo[] {
  const readme = readFileSync(README, "utf8");
  const documented = new Map<string, Access>(
    [
      ...readme.matchAll(/^\| `([\w.]+)` \| (?:query|mutation|subscription) \| (public|any|ingest|read|admin) \|/gm),
    ].map((m) => [expectDefined(m[1]), m[2] as Access]),
  );
  return Object.entries(appRouter._def.procedures as Record<string, unknown>).map(([path, procedure]) => {
    // tRPC keeps the builder's definition on `_def`; its `type` and `inputs` are plain data.
    const def = (procedure as { _def: { type: Kind; inputs?: unknown[] } })._def;
    const access = documented.get(path);
    if (!access) throw new Error(`procedure ${path} is not in packages/api/README.md`);
    return { path, kind: def.type, access, inputs: def.inputs ?? [] };
  });
}
