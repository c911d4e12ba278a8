import { LIMITS } from "@logbook/contracts";
import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { backoffDelay, MAX_INGEST_BATCH, withEventIds } from "./client.js";
import { isLogbookError, LogbookError } from "./errors.js";

describe("withEventIds", () => {
  it("gives each event a UUIDv7 and a time, keeping the ones it has", () => {
    const now = new Date("2026-11-22T10:00:00.000Z");
    const [a, b] = withEventIds(
      [
        { externalSessionId: "s", eventType: "x" },
        {
          externalSessionId: "s",
          eventType: "y",
          id: "0190b1c2-0000-7000-8000-000000000000",
          occurredAt: "2026-01-01T00:00:00Z",
        },
      ],
      () => now,
    );
    expect(expectDefined(a).id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(expectDefined(a).occurredAt).toBe(now.toISOString());
    expect(b).toMatchObject({ id: "0190b1c2-0000-7000-8000-000000000000", occurredAt: "2026-01-01T00:00:00Z" });
  });

  it("leaves an event that has its own id as it is, with no time added: the server dates it by the id", () => {
    const own = [
      { externalSessionId: "s", eventType: "x", id: "0190b1c2-0000-7000-8000-000000000000" },
      { externalSessionId: "s", eventType: "x", id: "3f2e1d0c-9b8a-4f6e-9d4c-3b2a1f0e9d8c" },
    ];
    expect(withEventIds(own, () => new Date("2026-11-22T10:00:00.000Z"))).toEqual(own);
  });

  it("does not change the caller's objects", () => {
    const original = { externalSessionId: "s", eventType: "x" };
    withEventIds([original]);
    expect(original).toEqual({ externalSessionId: "s", eventType: "x" });
  });

  it("splits at the server's batch limit", () => {
    expect(MAX_INGEST_BATCH).toBe(LIMITS.maxBatch);
  });
});

describe("backoffDelay", () => {
  const retry = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
  it("doubles from the base and stays under the cap, with jitter between 50 and 100 %", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, retry, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay(3, retry, () => 0)).toBe(200);
  });
});

describe("LogbookError", () => {
  it("carries the server's code, status, domain code, issues and details", () => {
    const error = LogbookError.from(
      TRPCClientError.from({
        error: {
          message: "project p is locked",
          code: -32009,
          data: {
            code: "CONFLICT",
            httpStatus: 409,
            path: "projects.locks.acquire",
            appCode: "LOCK_HELD",
            details: { owner: "w1" },
          },
        },
      }),
    );
    expect(isLogbookError(error)).toBe(true);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(error).toMatchObject({
      name: "LogbookError",
      message: "project p is locked",
      code: "CONFLICT",
      httpStatus: 409,
      appCode: "LOCK_HELD",
      details: { owner: "w1" },
      procedure: "projects.locks.acquire",
      issues: [],
      transient: false,
    });
  });

  it("is a NETWORK_ERROR (transient) when no answer came back", () => {
    const error = LogbookError.from(TRPCClientError.from(new TypeError("fetch failed")));
    expect(error).toMatchObject({ code: "NETWORK_ERROR", httpStatus: null, transient: true });
  });

  it("reads the status of a non-tRPC answer (a proxy's 502 page) and of a refused stream", () => {
    const proxy = LogbookError.from(new TRPCClientError("bad gateway", { meta: { response: { status: 502 } } }));
    expect(proxy).toMatchObject({ code: "BAD_GATEWAY", httpStatus: 502, transient: true });
    const stream = LogbookError.from(
      TRPCClientError.from(Object.assign(new Error("Non-200 status code (503)"), { code: 503 })),
    );
    expect(stream).toMatchObject({ code: "SERVICE_UNAVAILABLE", httpStatus: 503, transient: true });
  });

  it("says CLIENT_CLOSED_REQUEST when the caller aborted", () => {
    const aborted = LogbookError.from(TRPCClientError.from(new DOMException("aborted", "AbortError")));
    expect(aborted).toMatchObject({ code: "CLIENT_CLOSED_REQUEST", transient: false });
  });
});
