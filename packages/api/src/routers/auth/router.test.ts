import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

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

describe("auth.createLoginLink", () => {
  it("any valid key gets a single-use link on the public URL; it signs in with that key's scopes", async () => {
    expect(await callError((await t.kit.caller()).auth.createLoginLink())).toMatchObject({ code: "UNAUTHORIZED" });
    const reader = await t.kit.caller(["read"]);
    const link = await reader.auth.createLoginLink();
    expect(link.path).toMatch(/^\/auth\/link\?token=lbl_[A-Za-z0-9_-]{43}$/);
    expect(link.url).toBe(`http://logbook.test:4680${link.path}`);
    const token = expectDefined(new URL(link.url).searchParams.get("token"));
    const session = await t.kit.services.webSessions.redeemLoginLink(token);
    const signedIn = await t.kit.sessionCaller(expectDefined(session).token);
    expect(await signedIn.auth.whoami()).toEqual(await reader.auth.whoami());
    // The session has the key's scopes, no more.
    expect(await callError(signedIn.sessions.update({ id: crypto.randomUUID(), pinned: true }))).toMatchObject({
      code: "FORBIDDEN",
    });
  });

  it("an ended session is refused with a message that says to sign in again", async () => {
    const reader = await t.kit.caller(["read"]);
    const token = expectDefined(new URL((await reader.auth.createLoginLink()).url).searchParams.get("token"));
    const session = await t.kit.services.webSessions.redeemLoginLink(token);
    await t.kit.services.webSessions.end(expectDefined(session).token);
    expect(await callError((await t.kit.sessionCaller(expectDefined(session).token)).auth.whoami())).toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringContaining("sign in again") as string,
    });
  });
});
