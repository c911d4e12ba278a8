import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("retention router", () => {
  it("is for admin keys; a run is a dry run unless it says otherwise", async () => {
    const ingest = await t.kit.caller(["ingest", "read"]);
    expect(await callError(ingest.retention.run({}))).toMatchObject({ code: "FORBIDDEN" });
    const admin = await t.kit.caller(["admin"]);
    expect(await admin.retention.run({})).toMatchObject({ dryRun: true, ran: true });
  });

  it("names an invalid override", async () => {
    const admin = await t.kit.caller(["admin"]);
    const error = await callError(admin.retention.run({ policy: { batchSize: 0 } }));
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.issues?.map((issue) => issue.path)).toEqual(["policy.batchSize"]);
  });
});
