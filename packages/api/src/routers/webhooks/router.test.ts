import { describe, expect, it } from "vitest";

import { callError, setUpRouterTests } from "../../test-kit.js";

const t = setUpRouterTests();

describe("webhooks router", () => {
  it("is for admin keys only, reads included", async () => {
    const reader = await t.kit.caller(["ingest", "read"]);
    expect(await callError(reader.webhooks.list())).toMatchObject({ code: "FORBIDDEN" });
    expect(
      await callError(reader.webhooks.create({ url: "https://example.com/hook", events: ["session.completed"] })),
    ).toMatchObject({ code: "FORBIDDEN" });
  });

  it("names each bad field of a subscription, and stores nothing", async () => {
    const admin = await t.kit.caller(["admin"]);
    const error = await callError(
      admin.webhooks.create({
        url: "ftp://example.com/x",
        // @ts-expect-error: not an event a subscription can ask for
        events: ["session.exploded"],
        format: "xml" as "json",
      }),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.issues?.map((issue) => [issue.path, issue.message])).toEqual([
      ["url", "must be an http:// or https:// URL"],
      ["events.0", expect.stringMatching(/^must be one of session\.pending, /)],
      ["format", "must be json or slack"],
    ]);
    const credentials = await callError(
      admin.webhooks.create({ url: "https://user:pw@example.com/x", events: ["session.failed"] }),
    );
    expect(credentials.issues?.[0]?.message).toBe("must not carry a user name or password");
    expect(await admin.webhooks.list()).toEqual([]);
  });

  it("refuses a receiver on a private address with 400 and says why", async () => {
    const admin = await t.kit.caller(["admin"]);
    const error = await callError(
      admin.webhooks.create({ url: "http://169.254.169.254/latest/meta-data", events: ["session.failed"] }),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.message).toMatch(/169\.254\.169\.254 resolves to a private, loopback, link-local or reserved address/);
    expect(await admin.webhooks.list()).toEqual([]);
  });

  it("answers NOT_FOUND for a subscription that does not exist", async () => {
    const admin = await t.kit.caller(["admin"]);
    const id = "00000000-0000-4000-8000-000000000000";
    expect(await callError(admin.webhooks.get({ id }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await callError(admin.webhooks.test({ id }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await callError(admin.webhooks.remove({ id }))).toMatchObject({ code: "NOT_FOUND" });
  });
});
