import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("usage router", () => {
  it("reports with the contract's defaults; repricing is for admin keys", async () => {
    expect(await t.ingest.usage.report({ groupBy: "day" })).toMatchObject({ groupBy: "day", timeZone: "UTC" });
    expect(await callError(t.ingest.usage.reprice())).toMatchObject({ code: "FORBIDDEN" });
  });

  it("names a time zone that is not an IANA name", async () => {
    const error = await callError(t.ingest.usage.report({ groupBy: "day", timeZone: "Mars/Olympus" }));
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.message).toMatch(/^invalid input: timeZone: is not a known IANA time zone/);
    expect((await callError(t.ingest.usage.report({ groupBy: "day", timeZone: "+02:00" }))).issues?.[0]?.path).toBe(
      "timeZone",
    );
  });
});
