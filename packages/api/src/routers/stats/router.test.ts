import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("stats router", () => {
  it("answers readers, with the contract's defaults", async () => {
    const reader = await t.kit.caller(["read"]);
    await t.ingest.sessions.create({ status: "active" });
    const active = await reader.stats.activeSessions({});
    expect(active).toHaveLength(1);
    expect(await reader.stats.tokenTotals({ groupBy: "day" })).toEqual(expect.any(Array));
    expect((await reader.stats.overview()).totalSessions).toBe(1);
  });

  it("names a bad grouping or range", async () => {
    const reader = await t.kit.caller(["read"]);
    const grouping = await callError(reader.stats.tokenTotals({ groupBy: "week" as "day" }));
    expect(grouping.issues?.map((issue) => issue.path)).toEqual(["groupBy"]);
    const range = await callError(reader.stats.eventCounts({ from: "yesterday" }));
    expect(range).toMatchObject({ code: "BAD_REQUEST" });
    expect(range.message).toMatch(/^invalid input: from: must be an ISO-8601 date-time/);
  });
});
