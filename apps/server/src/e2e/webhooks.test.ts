/**
 * Outbound webhooks through the real server: a receiver on 127.0.0.1 (allowed by
 * LOGBOOK_WEBHOOKS_ALLOW_PRIVATE, which is off by default), subscriptions made with the SDK,
 * status changes made through the API, deliveries sent by the server's own worker.
 */
import { startWebhookReceiver, type WebhookReceiver } from "@logbook/fixtures";
import { LogbookError, verifyWebhookSignature, type WebhookDelivery } from "@logbook/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { failure, startHarness, type Harness } from "./harness.js";

let receiver: WebhookReceiver;
let received: WebhookReceiver["received"];
let receiverUrl: string;
let h: Harness;

/** How long a wait here may take before it fails naming what never came (tests have 180 s). */
const DEADLINE_MS = 120_000;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  receiverUrl = receiver.url;
  received = receiver.received;
  h = await startHarness({
    env: {
      LOGBOOK_WEBHOOKS_ALLOW_PRIVATE: "true",
      LOGBOOK_WEBHOOKS_POLL_MS: "50",
      LOGBOOK_WEBHOOKS_BACKOFF_BASE_MS: "200",
      LOGBOOK_WEBHOOKS_MAX_ATTEMPTS: "4",
      LOGBOOK_WEBHOOKS_DISABLE_AFTER: "6",
      JOB_RECOVERY_INTERVAL_MS: "200",
    },
  });
}, 120_000);
afterAll(async () => {
  await h?.stop();
  await receiver?.stop();
});
beforeEach(async () => {
  for (const subscription of await h.admin.webhooks.list.query()) {
    await h.admin.webhooks.remove.mutate({ id: subscription.id });
  }
  received.length = 0;
  receiver.answers = [];
});

async function deliveriesOf(subscriptionId: string): Promise<WebhookDelivery[]> {
  return (await h.admin.webhooks.deliveries.query({ subscriptionId })).items;
}

async function completedSession(title: string): Promise<string> {
  const session = await h.client.sessions.create.mutate({ title });
  await h.client.sessions.transition.mutate({ id: session.id, to: "active" });
  await h.client.sessions.transition.mutate({ id: session.id, to: "completed" });
  return session.id;
}

describe("webhooks end to end", () => {
  it("delivers a signed status change that the SDK helper verifies", async () => {
    const { subscription, secret } = await h.admin.webhooks.create.mutate({
      url: receiverUrl,
      events: ["session.completed"],
    });
    const sessionId = await completedSession("ship it");
    await waitFor("the delivery", () => received.length, { deadlineMs: DEADLINE_MS, accept: (n) => n === 1 });
    const [delivery] = received;
    const verified = await verifyWebhookSignature({
      body: delivery?.body ?? "",
      headers: delivery?.headers ?? {},
      secret,
    });
    expect(verified).toMatchObject({ ok: true, event: "session.completed" });
    expect(JSON.parse(delivery?.body ?? "")).toMatchObject({
      event: "session.completed",
      session: { id: sessionId, title: "ship it", status: "completed", previousStatus: "active" },
    });
    // Signed with this subscription's secret only.
    expect(
      (
        await verifyWebhookSignature({
          body: delivery?.body ?? "",
          headers: delivery?.headers ?? {},
          secret: "whsec_other",
        })
      ).ok,
    ).toBe(false);
    await waitFor("the delivered state", async () => (await deliveriesOf(subscription.id))[0]?.status, {
      deadlineMs: DEADLINE_MS,
      accept: (status) => status === "delivered",
    });
  });

  it("retries after 500s, records each try, then delivers once the receiver is back", async () => {
    const { subscription } = await h.admin.webhooks.create.mutate({ url: receiverUrl, events: ["session.completed"] });
    receiver.answers = [500, 500];
    await completedSession("flaky receiver");
    await waitFor("the third try", async () => (await deliveriesOf(subscription.id))[0]?.status, {
      deadlineMs: DEADLINE_MS,
      accept: (status) => status === "delivered",
    });
    const [delivery] = await deliveriesOf(subscription.id);
    expect(delivery?.attemptLog.map((a) => [a.attempt, a.statusCode, a.error])).toEqual([
      [1, 500, "the receiver answered 500"],
      [2, 500, "the receiver answered 500"],
      [3, 200, null],
    ]);
    expect(delivery?.attemptLog[0]?.responseExcerpt).toBe("not now");
    // The same delivery each time: one id for the receiver to drop duplicates by.
    expect(new Set(received.map((r) => r.headers["logbook-webhook-id"]))).toEqual(new Set([delivery?.id]));
  });

  it("gives up after the last try and disables the subscription after N failures in a row", async () => {
    const { subscription } = await h.admin.webhooks.create.mutate({
      url: receiverUrl,
      events: ["session.completed"],
      format: "slack",
    });
    receiver.answers = new Array<number>(20).fill(500);
    await completedSession("first");
    await waitFor("the last try", async () => (await deliveriesOf(subscription.id))[0]?.status, {
      deadlineMs: DEADLINE_MS,
      accept: (status) => status === "failed",
    });
    expect(await deliveriesOf(subscription.id)).toMatchObject([{ attempts: 4, status: "failed", nextAttemptAt: null }]);
    expect(JSON.parse(received[0]?.body ?? "")).toEqual({ text: 'Logbook: session "first" is now completed.' });
    await completedSession("second");
    await waitFor("the disabling", async () => (await h.admin.webhooks.get.query({ id: subscription.id })).enabled, {
      deadlineMs: DEADLINE_MS,
      accept: (enabled) => !enabled,
    });
    const disabled = await h.admin.webhooks.get.query({ id: subscription.id });
    expect(disabled).toMatchObject({ enabled: false, consecutiveFailures: 6 });
    expect(disabled.disabledReason).toMatch(/^disabled after 6 failed deliveries in a row/);
  });

  it("keeps retrying across a server restart", async () => {
    const { subscription } = await h.admin.webhooks.create.mutate({ url: receiverUrl, events: ["session.completed"] });
    receiver.answers = [503];
    await completedSession("survives");
    await waitFor("the first try", async () => (await deliveriesOf(subscription.id))[0]?.attempts, {
      deadlineMs: DEADLINE_MS,
      accept: (attempts) => attempts === 1,
    });
    // Killed, not stopped: nothing of the process survives, only what is in PostgreSQL.
    await h.server.kill("SIGKILL");
    // Had the retry been in flight, its lease would hold it for a minute: expire it now (the
    // database's clock decides), as that minute would. The new process recovers and sends it.
    await h.db
      .knex("jobs")
      .where({ status: "running" })
      .update({ lease_expires_at: h.db.knex.raw("now() - interval '1 second'") });
    await h.server.restart();
    await waitFor("the retry after restart", async () => (await deliveriesOf(subscription.id))[0]?.status, {
      deadlineMs: DEADLINE_MS,
      accept: (status) => status === "delivered",
    });
    expect((await deliveriesOf(subscription.id))[0]?.attemptLog.map((a) => a.statusCode)).toEqual([503, 200]);
  });

  it("sends a test delivery on demand", async () => {
    const { subscription, secret } = await h.admin.webhooks.create.mutate({
      url: receiverUrl,
      events: ["session.failed"],
    });
    const { deliveryId } = await h.admin.webhooks.test.mutate({ id: subscription.id });
    await waitFor("the test delivery", () => received.length, { deadlineMs: DEADLINE_MS, accept: (n) => n === 1 });
    expect(received[0]?.headers["logbook-webhook-id"]).toBe(deliveryId);
    expect(received[0]?.headers["logbook-webhook-event"]).toBe("webhook.test");
    expect(
      (await verifyWebhookSignature({ body: received[0]?.body ?? "", headers: received[0]?.headers ?? {}, secret })).ok,
    ).toBe(true);
  });

  it("answers bad input with a 400 that says what is wrong, and stores nothing", async () => {
    const bad = LogbookError.from(
      await failure(h.admin.webhooks.create.mutate({ url: "javascript:alert(1)", events: ["session.completed"] })),
    );
    expect(bad).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(bad.issues[0]).toMatchObject({ path: "url", message: "must be an http:// or https:// URL" });
    const none = LogbookError.from(await failure(h.admin.webhooks.create.mutate({ url: receiverUrl, events: [] })));
    expect(none.issues[0]).toMatchObject({ path: "events", message: "give at least one event" });
    expect(await h.admin.webhooks.list.query()).toEqual([]);
  });
});

describe("webhooks without the private-address setting", () => {
  let strict: Harness;
  beforeAll(async () => {
    strict = await startHarness({ env: { LOGBOOK_WEBHOOKS_POLL_MS: "50" } });
  }, 120_000);
  afterAll(() => strict?.stop());

  it("refuses loopback, private and metadata receivers with a 400 that names the address", async () => {
    for (const url of [
      receiverUrl,
      "http://10.0.0.8/hook",
      "http://169.254.169.254/latest/meta-data/",
      "http://[::1]:9/x",
    ]) {
      const error = LogbookError.from(
        await failure(strict.admin.webhooks.create.mutate({ url, events: ["session.completed"] })),
      );
      expect(error.httpStatus, url).toBe(400);
      expect(error.message, url).toMatch(/resolves to a private, loopback, link-local or reserved address/);
    }
    expect(await strict.admin.webhooks.list.query()).toEqual([]);
  });
});
