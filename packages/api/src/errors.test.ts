import { AppError, APP_ERROR_CODES, invalidInputFrom } from "@logbook/core";
import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { z } from "zod";

import { describeError, formatErrorShape, toTRPCError } from "./errors.js";

describe("describeError", () => {
  it("maps every domain code to its tRPC code and HTTP status", () => {
    const mapped = Object.fromEntries(
      APP_ERROR_CODES.map((code) => {
        const d = describeError(new AppError(code, "m"));
        return [code, `${d.code} ${d.httpStatus}`];
      }),
    );
    expect(mapped).toEqual({
      NOT_FOUND: "NOT_FOUND 404",
      CONFLICT: "CONFLICT 409",
      LOCK_HELD: "CONFLICT 409",
      INVALID_TRANSITION: "BAD_REQUEST 400",
      INVALID_INPUT: "BAD_REQUEST 400",
      UNAUTHORIZED: "UNAUTHORIZED 401",
      FORBIDDEN: "FORBIDDEN 403",
      PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE 413",
      ANSWER_TOO_LARGE: "UNPROCESSABLE_CONTENT 422",
      TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS 429",
      UNAVAILABLE: "SERVICE_UNAVAILABLE 503",
    });
  });

  it("keeps a domain error's message and details, also when wrapped by tRPC", () => {
    const error = new TRPCError({
      code: "INTERNAL_SERVER_ERROR",
      cause: new AppError("LOCK_HELD", "held by w1", { details: { owner: "w1" } }),
    });
    expect(describeError(error)).toMatchObject({
      code: "CONFLICT",
      message: "held by w1",
      appCode: "LOCK_HELD",
      details: { owner: "w1" },
      internal: false,
    });
  });

  it("maps database errors through toAppError, without their SQL text", () => {
    const unique = Object.assign(
      new Error('duplicate key value violates unique constraint "sessions_external_id_unique"'),
      { code: "23505", constraint: "sessions_external_id_unique" },
    );
    const d = describeError(new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: unique }));
    expect(d).toMatchObject({ code: "CONFLICT", httpStatus: 409, appCode: "CONFLICT" });
    expect(d.message).not.toMatch(/duplicate key/);
  });

  it("lists Zod issues with dotted paths for input errors", () => {
    const parsed = z
      .object({ events: z.array(z.object({ eventType: z.string().min(2) })) })
      .safeParse({ events: [{ eventType: "ok" }, { eventType: "x" }] });
    const d = describeError(new TRPCError({ code: "BAD_REQUEST", cause: parsed.error }));
    expect(d.code).toBe("BAD_REQUEST");
    expect(d.issues).toEqual([
      { path: "events.1.eventType", message: expect.any(String) as string, code: "too_small" },
    ]);
    expect(d.message).toMatch(/^invalid input: events\.1\.eventType: /);
  });

  it("gives a service's INVALID_INPUT from a raw input the same message and issues as a bad tRPC input", () => {
    const schema = z.object({ events: z.array(z.object({ eventType: z.string().min(2) })) });
    const raw = { events: [{ eventType: "x" }] };
    const failed = schema.safeParse(raw);
    if (failed.success) throw new Error("the raw input should fail its schema");
    const viaRouter = describeError(new TRPCError({ code: "BAD_REQUEST", cause: failed.error }));
    const viaService = describeError(invalidInputFrom(failed.error, "input"));
    expect(viaService).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400, appCode: "INVALID_INPUT" });
    expect(viaService.message).toBe(viaRouter.message);
    expect(viaService.issues).toEqual(viaRouter.issues);
  });

  it("hides everything else behind 'internal error' (an output that fails its contract too)", () => {
    const bug = new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: new Error('relation "x" does not exist') });
    expect(describeError(bug)).toMatchObject({
      code: "INTERNAL_SERVER_ERROR",
      httpStatus: 500,
      message: "internal error",
      internal: true,
    });
    const output = new TRPCError({
      code: "INTERNAL_SERVER_ERROR",
      message: "Output validation failed",
      cause: z.string().safeParse(1).error,
    });
    expect(describeError(output)).toMatchObject({ message: "internal error", internal: true });
    expect(describeError("a string")).toMatchObject({ message: "internal error", internal: true });
  });

  it("keeps tRPC's own codes, with clearer messages for bad JSON and large bodies", () => {
    expect(
      describeError(new TRPCError({ code: "NOT_FOUND", message: 'No procedure found on path "x"' })),
    ).toMatchObject({ code: "NOT_FOUND", httpStatus: 404 });
    expect(describeError(new TRPCError({ code: "PAYLOAD_TOO_LARGE" })).message).toMatch(/BODY_LIMIT_BYTES/);
    expect(
      describeError(new TRPCError({ code: "BAD_REQUEST", cause: new SyntaxError("Unexpected end") })).message,
    ).toBe("the input is not valid JSON (a POST's body, or a GET's `input` parameter): Unexpected end");
    expect(describeError(new TRPCError({ code: "PARSE_ERROR" }))).toMatchObject({
      code: "PARSE_ERROR",
      httpStatus: 400,
      message: "the input is not valid JSON (a POST's body, or a GET's `input` parameter)",
    });
  });
});

describe("formatErrorShape and toTRPCError", () => {
  it("shapes the client's error without a stack, with the mapped code", () => {
    const error = toTRPCError(
      new TRPCError({
        code: "INTERNAL_SERVER_ERROR",
        cause: new AppError("NOT_FOUND", "session s was not found", { details: { id: "s" } }),
      }),
    );
    expect(error.code).toBe("NOT_FOUND");
    const shape = formatErrorShape({ error, path: "sessions.get" });
    expect(shape).toEqual({
      message: "session s was not found",
      code: -32004,
      data: { code: "NOT_FOUND", httpStatus: 404, path: "sessions.get", appCode: "NOT_FOUND", details: { id: "s" } },
    });
  });
});
