import { describe, expect, it } from "vitest";

import { AppError, isDatabaseAway, toAppError, violatedUniqueConstraint } from "./errors.js";

const refused = () =>
  Object.assign(new Error("connect ECONNREFUSED /tmp/pg/.s.PGSQL.5432"), { code: "ECONNREFUSED", syscall: "connect" });

describe("isDatabaseAway", () => {
  it("holds for the driver's and the pool's ways of saying the database is gone or busy", () => {
    expect(isDatabaseAway(refused())).toBe(true);
    expect(isDatabaseAway(Object.assign(new Error("the database system is starting up"), { code: "57P03" }))).toBe(
      true,
    );
    expect(isDatabaseAway(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(
      isDatabaseAway(Object.assign(new Error("Knex: Timeout acquiring a connection"), { name: "KnexTimeoutError" })),
    ).toBe(true);
    expect(isDatabaseAway(new AppError("UNAVAILABLE", "the database is not available right now"))).toBe(true);
  });

  it("looks through the errors that wrap one", () => {
    const inner = new Error("outer", { cause: new Error("middle", { cause: refused() }) });
    expect(isDatabaseAway(inner)).toBe(true);
    // toAppError alone looks at the outer error only.
    expect(toAppError(inner)).toBeNull();
  });

  it("does not hold for query faults, other domain errors or non-errors", () => {
    expect(isDatabaseAway(Object.assign(new Error('relation "x" does not exist'), { code: "42P01" }))).toBe(false);
    expect(isDatabaseAway(new AppError("NOT_FOUND", "no such session"))).toBe(false);
    expect(isDatabaseAway(new Error("wrapper", { cause: new Error("plain") }))).toBe(false);
    expect(isDatabaseAway("ECONNREFUSED")).toBe(false);
    expect(isDatabaseAway(null)).toBe(false);
  });

  it("stops after a few levels (a cause that points at itself ends the walk)", () => {
    const loop = new Error("loop") as Error & { cause?: unknown };
    loop.cause = loop;
    expect(isDatabaseAway(loop)).toBe(false);
  });
});

describe("toAppError", () => {
  it("maps a driver error that Objection wrapped (db-errors keep it as nativeError)", () => {
    const native = Object.assign(new Error("duplicate key value"), { code: "23505", constraint: "sessions_pkey" });
    const wrapped = Object.assign(new Error("duplicate key value"), {
      name: "UniqueViolationError",
      nativeError: native,
    });
    expect(toAppError(wrapped)).toMatchObject({
      code: "CONFLICT",
      message: "a record with the same unique value already exists (sessions_pkey)",
    });
    expect(violatedUniqueConstraint(wrapped)).toBe("sessions_pkey");
    expect(violatedUniqueConstraint(native)).toBe("sessions_pkey");
    expect(violatedUniqueConstraint(Object.assign(new Error("fk"), { code: "23503" }))).toBeNull();
    // A wrapper around something that is not a driver error stays internal.
    expect(toAppError(Object.assign(new Error("odd"), { nativeError: new Error("plain") }))).toBeNull();
  });
});
