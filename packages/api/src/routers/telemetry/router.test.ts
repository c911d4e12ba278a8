import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("telemetry router", () => {
  it("lists metric points with the contract's defaults (none yet)", async () => {
    expect(await t.ingest.telemetry.metrics({ name: "claude_code.cost.usage" })).toEqual([]);
  });

  it("refuses a session given twice, and names an unknown session", async () => {
    const both = await callError(
      t.ingest.telemetry.metrics({ sessionId: "00000000-0000-4000-8000-000000000000", externalSessionId: "x" }),
    );
    expect(both).toMatchObject({ code: "BAD_REQUEST" });
    expect(both.message).toMatch(/give sessionId or externalSessionId, not both/);
    const missing = await callError(t.ingest.telemetry.usage({ sessionId: "00000000-0000-4000-8000-000000000000" }));
    expect(missing).toMatchObject({ code: "NOT_FOUND" });
  });
});
