import { describe, expect, it } from "vitest";

import { setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("health router", () => {
  it("answers without a key: database reachable, migrations current", async () => {
    const anonymous = await t.kit.caller();
    expect(await anonymous.health.check()).toMatchObject({
      status: "ok",
      database: { reachable: true, migrationsCurrent: true, pendingMigrations: [] },
    });
  });
});
