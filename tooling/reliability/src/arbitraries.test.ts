import { describe, expect, it } from "vitest";

import { RAW_BYTES_TOKEN, deeplyNested, serialise } from "./lib/arbitraries.js";
import { listProcedures } from "./lib/procedures.js";
import { leaksInternals } from "./suites/hostile.js";

describe("fuzzing helpers", () => {
  it("writes invalid UTF-8 bytes where the token was", () => {
    const body = serialise({ a: `x${RAW_BYTES_TOKEN}y` });
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(body as Buffer)).toThrow();
    expect((body as Buffer).toString("latin1")).toMatch(/^\{"a":"x.+y"\}$/);
  });

  it("writes deep nesting as text, deeper than JSON.stringify could", () => {
    const body = serialise({ deep: deeplyNested(100_000, "array") }) as string;
    expect(body.startsWith(`{"deep":${"[".repeat(100_000)}"bottom"`)).toBe(true);
    expect(body.endsWith(`${"]".repeat(100_000)}}`)).toBe(true);
  });

  it("finds every procedure of the router with its documented scope and input schema", () => {
    const procedures = listProcedures();
    expect(procedures.length).toBeGreaterThan(50);
    expect(procedures.find((p) => p.path === "health.check")).toMatchObject({ kind: "query", access: "public" });
    expect(procedures.find((p) => p.path === "events.ingest")).toMatchObject({ kind: "mutation", access: "ingest" });
    expect(procedures.filter((p) => p.kind === "subscription").length).toBeGreaterThan(0);
  });

  it("counts as a leak what the server shows of its own, not what the client sent and the message repeats", () => {
    const notFound = '{"error":{"message":"session with external id /repo/src/index.ts was not found"}}';
    expect(leaksInternals(notFound, '{"externalId":"/repo/src/index.ts"}')).toBe(false);
    expect(leaksInternals(notFound, '{"externalId":"other"}')).toBe(true);
    expect(
      leaksInternals('{"message":"boom","stack":"Error: boom\\n    at run (/app/dist/main.js:1:2)"}', '{"a":1}'),
    ).toBe(true);
    expect(leaksInternals('{"error":{"message":"not found"}}', undefined)).toBe(false);
  });
});
