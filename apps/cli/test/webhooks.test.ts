import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { startWebhookReceiver, type WebhookReceiver } from "@logbook/fixtures";
import { verifyWebhookSignature } from "@logbook/sdk";
import { startTestServer, type TestServer } from "@logbook/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runCli } from "./helpers.js";

/**
 * `logbook webhooks` end to end: the built binary against the built server, and a real
 * receiver on 127.0.0.1 (the server allows private receivers for it).
 */

let db: TestDatabase;
let server: TestServer;
let receiver: WebhookReceiver;
let env: Record<string, string>;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  db = await createTestDatabase();
  server = await startTestServer({
    databaseUrl: db.url,
    env: { LOGBOOK_WEBHOOKS_ALLOW_PRIVATE: "true", LOGBOOK_WEBHOOKS_POLL_MS: "100" },
  });
  env = { LOGBOOK_URL: server.url, LOGBOOK_API_KEY: await server.createKey(["admin"], "cli-webhooks") };
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await db?.destroy();
  await receiver?.stop();
});

describe("logbook webhooks", () => {
  it("adds, lists, tests, shows deliveries, disables and removes a subscription", async () => {
    const added = await runCli(["webhooks", "add", receiver.url, "-e", "waiting_input,session.failed", "--json"], env);
    expect(added.code, added.stderr).toBe(0);
    const { subscription, secret } = JSON.parse(added.stdout) as { subscription: { id: string }; secret: string };
    expect(secret).toMatch(/^whsec_/);

    const listed = await runCli(["webhooks", "list"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(subscription.id);
    expect(listed.stdout).toContain("waiting_input,failed");
    expect(listed.stdout).not.toContain(secret);

    const tested = await runCli(["webhooks", "test", subscription.id], env);
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/delivered: 200 in \d+ ms/);
    const [delivery] = receiver.received;
    expect(
      await verifyWebhookSignature({ body: delivery?.body ?? "", headers: delivery?.headers ?? {}, secret }),
    ).toMatchObject({ ok: true, event: "webhook.test" });

    const deliveries = await runCli(["webhooks", "deliveries", subscription.id], env);
    expect(deliveries.stdout).toMatch(/webhook\.test\s+delivered\s+1\s+200/);

    // A receiver that fails the test fails the command, with --json too. (Enough 500s for
    // the retries that may come meanwhile; cleared after.)
    receiver.answers.push(...Array<number>(20).fill(500));
    const failed = await runCli(["webhooks", "test", subscription.id], env);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stdout).toMatch(/failed: .*500.*\(it will be retried\)/);
    const failedJson = await runCli(["webhooks", "test", subscription.id, "--json"], env);
    expect(failedJson.code, failedJson.stderr).toBe(1);
    expect(JSON.parse(failedJson.stdout)).toMatchObject({ delivery: { status: "pending" } });
    receiver.answers.length = 0;

    expect((await runCli(["webhooks", "disable", subscription.id], env)).stdout).toContain("disabled");
    const off = await runCli(["webhooks", "list", "--json"], env);
    expect(JSON.parse(off.stdout)).toMatchObject({ subscriptions: [{ id: subscription.id, enabled: false }] });
    expect((await runCli(["webhooks", "remove", subscription.id], env)).code).toBe(0);
    expect((await runCli(["webhooks", "list"], env)).stdout).toContain("no webhook subscriptions");
  });

  it("refuses a bad URL or event with exit 2 and the reason, a missing subscription with 3, a read key with 4", async () => {
    const badUrl = await runCli(["webhooks", "add", "ftp://example.com/x", "-e", "completed"], env);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain("must be an http:// or https:// URL");
    const badEvent = await runCli(["webhooks", "add", receiver.url, "-e", "exploded"], env);
    expect(badEvent.code).toBe(2);
    expect(badEvent.stderr).toContain("must be one of session.pending");
    const missing = await runCli(["webhooks", "remove", "00000000-0000-4000-8000-000000000000"], env);
    expect(missing.code).toBe(3);
    const reader = await runCli(["webhooks", "list"], { ...env, LOGBOOK_API_KEY: server.apiKey });
    expect(reader.code).toBe(4);
    expect(reader.stderr).toContain(
      "this API key does not have the 'admin' scope; a key with it is made where the server runs: " +
        "logbook-server keys create --name NAME --scopes admin, then give it with --api-key or LOGBOOK_API_KEY",
    );
  });
});
