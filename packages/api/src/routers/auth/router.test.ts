import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("auth router", () => {
  it("whoami needs a valid key, any scope, and says who it is", async () => {
    expect(await callError((await t.kit.caller()).auth.whoami())).toMatchObject({
      code: "UNAUTHORIZED",
      appCode: "UNAUTHORIZED",
      message: expect.stringContaining("an API key is required") as string,
    });
    const me = await (await t.kit.caller(["read"])).auth.whoami();
    expect(me).toMatchObject({ scopes: ["read"], name: expect.stringMatching(/^test-/) as string });
  });
});
