import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("jobs router", () => {
  it("enqueue → claim → complete, with the contract's defaults", async () => {
    const job = await t.ingest.jobs.enqueue({ type: "router.test" });
    expect(job).toMatchObject({ status: "pending", attempts: 0, maxAttempts: 3, priority: 0 });
    const [claimed] = await t.ingest.jobs.claim({ workerId: "w", types: ["router.test"] });
    expect(claimed?.id).toBe(job.id);
    expect(await t.ingest.jobs.complete({ id: job.id, workerId: "w", result: { ok: 1 } })).toMatchObject({
      status: "completed",
    });
  });

  it("names a bad type, attempt count or lease, and stores nothing", async () => {
    const type = await callError(t.ingest.jobs.enqueue({ type: "1-bad" }));
    expect(type).toMatchObject({ code: "BAD_REQUEST" });
    expect(type.message).toMatch(/^invalid input: type: must start with a letter/);
    const attempts = await callError(t.ingest.jobs.enqueue({ type: "ok", maxAttempts: 0 }));
    expect(attempts.issues?.map((issue) => issue.path)).toEqual(["maxAttempts"]);
    const lease = await callError(t.ingest.jobs.claim({ workerId: "w", leaseMs: 5 }));
    expect(lease.issues?.map((issue) => issue.path)).toEqual(["leaseMs"]);
    expect(await t.kit.db.knex("jobs").where({ type: "ok" })).toHaveLength(0);
  });

  it("cancel and lease recovery are for admin keys", async () => {
    const job = await t.ingest.jobs.enqueue({ type: "router.cancel" });
    expect(await callError(t.ingest.jobs.cancel({ id: job.id }))).toMatchObject({ code: "FORBIDDEN" });
    expect(await callError(t.ingest.jobs.recoverExpiredLeases())).toMatchObject({ code: "FORBIDDEN" });
    const admin = await t.kit.caller(["admin"]);
    expect(await admin.jobs.cancel({ id: job.id })).toMatchObject({ status: "cancelled" });
  });
});
