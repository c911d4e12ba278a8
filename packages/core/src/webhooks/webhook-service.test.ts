import {
  createSessionInput,
  createWebhookInput,
  listWebhookDeliveriesInput,
  transitionSessionInput,
  updateWebhookInput,
} from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { startWebhookReceiver, type WebhookReceiver } from "@logbook/fixtures";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { JobService } from "../jobs/job-service.js";
import { SessionService } from "../sessions/session-service.js";
import { rejection } from "../test-helpers.js";
import { isPublicAddress } from "./address-guard.js";
import { signWebhook } from "./signing.js";
import { slackText, WebhookService, webhookBackoffMs } from "./webhook-service.js";

let db: TestDatabase;
let sessions: SessionService;
let jobs: JobService;
let webhooks: WebhookService;
let strict: WebhookService;
let receiver: WebhookReceiver;

beforeAll(async () => {
  db = await createTestDatabase();
  const deps = { knex: db.knex };
  sessions = new SessionService(deps);
  jobs = new JobService(deps);
  webhooks = new WebhookService(deps, jobs, {
    allowPrivate: true,
    maxAttempts: 3,
    disableAfterFailures: 4,
    backoffBaseMs: 60_000,
  });
  strict = new WebhookService(deps, jobs);
  receiver = await startWebhookReceiver("x".repeat(5_000));
});
afterAll(async () => {
  await receiver.stop();
  await db.destroy();
});
beforeEach(async () => {
  await db.knex("webhook_subscriptions").delete();
  await db.knex("jobs").delete();
  receiver.received.length = 0;
  receiver.answers = [];
});

/** Makes every waiting retry due now (the queue's clock is the database's). */
async function makeRetriesDue(): Promise<void> {
  await db
    .knex("jobs")
    .where({ status: "pending" })
    .update({ scheduled_at: db.knex.raw("now() - interval '1 ms'") });
}

async function newWaitingSession(): Promise<string> {
  const session = await sessions.create(createSessionInput.parse({ title: "build the thing", cwd: "/work/app" }));
  await sessions.transition(transitionSessionInput.parse({ id: session.id, to: "active" }));
  // As the hook pipeline does for a permission prompt: the status with its reason.
  await db
    .knex("sessions")
    .where({ id: session.id })
    .update({ status: "waiting_input", status_reason: "permission: Bash", status_changed_at: db.knex.fn.now() });
  return session.id;
}

describe("addresses", () => {
  it("allows only public unicast addresses", () => {
    for (const address of ["8.8.8.8", "2001:4860:4860::8888", "1.1.1.1"]) expect(isPublicAddress(address)).toBe(true);
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "fe80::1",
      "fd00:ec2::254",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "224.0.0.1",
      "not an address",
    ])
      expect(isPublicAddress(address), address).toBe(false);
  });

  it("refuses private receivers at subscription time, with the reason", async () => {
    for (const url of [
      "http://127.0.0.1:9/x",
      "http://[::1]/x",
      "http://169.254.169.254/latest/meta-data",
      "http://localhost/x",
    ]) {
      const error = await rejection(strict.create(createWebhookInput.parse({ url, events: ["session.completed"] })));
      expect(error.code, url).toBe("INVALID_INPUT");
      expect(error.message, url).toMatch(/private, loopback, link-local or reserved address/);
    }
    const unresolvable = await rejection(
      strict.create(createWebhookInput.parse({ url: "https://no-such-host.invalid/x", events: ["session.completed"] })),
    );
    expect(unresolvable.message).toMatch(/does not resolve/);
    expect(await strict.list()).toEqual([]);
  });

  it("refuses a private receiver at delivery time too (the address changed after the check)", async () => {
    const { subscription } = await webhooks.create(
      createWebhookInput.parse({ url: receiver.url, events: ["session.waiting_input"] }),
    );
    await newWaitingSession();
    // The strict worker (as a server without the private-address setting) refuses to connect.
    expect(await strict.deliverDue("strict")).toBe(1);
    expect(receiver.received).toHaveLength(0);
    const page = await webhooks.deliveries(listWebhookDeliveriesInput.parse({ subscriptionId: subscription.id }));
    expect(page.items[0]?.attemptLog[0]?.error).toMatch(/is not a public address/);
  });

  it("checks the addresses a name resolves to when it connects (DNS rebinding)", async () => {
    // Accepted while private receivers were allowed; at delivery the name resolves to loopback.
    const url = receiver.url.replace("127.0.0.1", "localhost");
    const { subscription } = await webhooks.create(
      createWebhookInput.parse({ url, events: ["session.waiting_input"] }),
    );
    await newWaitingSession();
    expect(await strict.deliverDue("strict")).toBe(1);
    expect(receiver.received).toHaveLength(0);
    const page = await webhooks.deliveries(listWebhookDeliveriesInput.parse({ subscriptionId: subscription.id }));
    expect(page.items[0]?.attemptLog[0]?.error).toMatch(/^localhost resolves to a non-public address \(/);
  });
});

describe("subscriptions", () => {
  it("shows the secret once; list, get, update and remove never return it", async () => {
    const created = await webhooks.create(
      createWebhookInput.parse({
        url: receiver.url,
        events: ["session.completed", "session.completed", "session.failed"],
        name: " ci ",
      }),
    );
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(created.subscription).toMatchObject({
      name: "ci",
      events: ["session.completed", "session.failed"],
      enabled: true,
      format: "json",
    });
    const id = created.subscription.id;
    const answers = [
      await webhooks.list(),
      await webhooks.get({ id }),
      await webhooks.update(updateWebhookInput.parse({ id, format: "slack", enabled: false })),
      await webhooks.remove({ id }),
    ];
    expect(answers[2]).toMatchObject({ format: "slack", enabled: false });
    expect(JSON.stringify(answers)).not.toContain(created.secret);
    expect((await rejection(webhooks.get({ id }))).code).toBe("NOT_FOUND");
  });

  it("refuses an unknown project with NOT_FOUND and stores nothing", async () => {
    const error = await rejection(
      webhooks.create(
        createWebhookInput.parse({
          url: receiver.url,
          events: ["session.failed"],
          projectId: "00000000-0000-4000-8000-000000000000",
        }),
      ),
    );
    expect(error.code).toBe("NOT_FOUND");
    expect(await webhooks.list()).toEqual([]);
  });
});

describe("delivery", () => {
  it("fans a status change out to matching subscriptions and signs the body", async () => {
    const { subscription, secret } = await webhooks.create(
      createWebhookInput.parse({ url: receiver.url, events: ["session.waiting_input"] }),
    );
    await webhooks.create(createWebhookInput.parse({ url: receiver.url, events: ["session.completed"] }));
    const sessionId = await newWaitingSession();
    expect(await webhooks.deliverDue("w1")).toBe(1);
    expect(receiver.received).toHaveLength(1);
    const [got] = receiver.received;
    const delivery = expectDefined(got);
    const timestamp = Number(delivery.headers["logbook-webhook-timestamp"]);
    expect(delivery.headers["logbook-webhook-signature"]).toBe(signWebhook(secret, timestamp, delivery.body));
    expect(delivery.headers["logbook-webhook-event"]).toBe("session.waiting_input");
    expect(JSON.parse(delivery.body)).toMatchObject({
      id: delivery.headers["logbook-webhook-id"],
      event: "session.waiting_input",
      session: {
        id: sessionId,
        status: "waiting_input",
        previousStatus: "active",
        statusReason: "permission: Bash",
        cwd: "/work/app",
      },
    });
    const page = await webhooks.deliveries(listWebhookDeliveriesInput.parse({ subscriptionId: subscription.id }));
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ status: "delivered", attempts: 1, lastStatusCode: 200 });
    expect(page.items[0]?.attemptLog).toMatchObject([
      { attempt: 1, statusCode: 200, error: null, responseExcerpt: "ok" },
    ]);
  });

  it("retries after 500s with backoff, records each try, and delivers", async () => {
    const { subscription } = await webhooks.create(
      createWebhookInput.parse({ url: receiver.url, events: ["session.waiting_input"] }),
    );
    receiver.answers = [500, 503];
    await newWaitingSession();
    expect(await webhooks.deliverDue("w1")).toBe(1);
    // Not due yet: the retry waits for its backoff.
    expect(await webhooks.deliverDue("w1")).toBe(0);
    await makeRetriesDue();
    expect(await webhooks.deliverDue("w1")).toBe(1);
    await makeRetriesDue();
    expect(await webhooks.deliverDue("w1")).toBe(1);
    expect(receiver.received.map((r) => r.headers["logbook-webhook-id"])).toEqual(
      Array(3).fill(receiver.received[0]?.headers["logbook-webhook-id"]),
    );
    const [delivery] = (
      await webhooks.deliveries(listWebhookDeliveriesInput.parse({ subscriptionId: subscription.id }))
    ).items;
    expect(delivery).toMatchObject({ status: "delivered", attempts: 3, lastStatusCode: 200 });
    expect(delivery?.attemptLog.map((a) => [a.attempt, a.statusCode])).toEqual([
      [1, 500],
      [2, 503],
      [3, 200],
    ]);
    expect(delivery?.attemptLog[0]?.nextAttemptAt).not.toBeNull();
    // Only a short excerpt of a large answer is kept.
    expect(delivery?.attemptLog[0]?.responseExcerpt?.length).toBe(512);
    expect((await webhooks.get({ id: subscription.id })).consecutiveFailures).toBe(0);
  });

  it("gives up after the last try and disables a subscription after N failures in a row", async () => {
    const { subscription } = await webhooks.create(
      createWebhookInput.parse({
        url: receiver.url,
        events: ["session.waiting_input", "session.completed"],
        format: "slack",
      }),
    );
    receiver.answers = new Array<number>(10).fill(500);
    const sessionId = await newWaitingSession();
    for (let i = 0; i < 3; i += 1) {
      await makeRetriesDue();
      expect(await webhooks.deliverDue("w1")).toBe(1);
    }
    const [first] = (await webhooks.deliveries(listWebhookDeliveriesInput.parse({ subscriptionId: subscription.id })))
      .items;
    expect(first).toMatchObject({ status: "failed", attempts: 3, nextAttemptAt: null });
    expect(JSON.parse(receiver.received[0]?.body ?? "{}")).toEqual({
      text: 'Logbook: session "build the thing" in /work/app is waiting for you (permission: Bash).',
    });
    // The fourth failure in a row (a new delivery) disables the subscription.
    await sessions.transition(transitionSessionInput.parse({ id: sessionId, to: "completed" }));
    expect(await webhooks.deliverDue("w1")).toBe(1);
    const disabled = await webhooks.get({ id: subscription.id });
    expect(disabled).toMatchObject({ enabled: false, consecutiveFailures: 4 });
    expect(disabled.disabledReason).toMatch(/^disabled after 4 failed deliveries in a row/);
    // Its pending retry is dropped, and no new change fans out to it.
    await makeRetriesDue();
    expect(await webhooks.deliverDue("w1")).toBe(1);
    expect(receiver.received).toHaveLength(4);
    const items = (await webhooks.deliveries(listWebhookDeliveriesInput.parse({ subscriptionId: subscription.id })))
      .items;
    expect(items.map((d) => [d.event, d.status, d.lastError])).toEqual([
      ["session.completed", "failed", "the subscription is disabled"],
      ["session.waiting_input", "failed", "the receiver answered 500"],
    ]);
    // Enabling again clears the streak.
    expect(await webhooks.update(updateWebhookInput.parse({ id: subscription.id, enabled: true }))).toMatchObject({
      enabled: true,
      consecutiveFailures: 0,
      disabledReason: null,
    });
  });

  it("sends a test delivery, and nothing for a removed subscription", async () => {
    const { subscription } = await webhooks.create(
      createWebhookInput.parse({ url: receiver.url, events: ["session.failed"] }),
    );
    const ref = await webhooks.test({ id: subscription.id });
    await webhooks.remove({ id: subscription.id });
    expect(await webhooks.deliverDue("w1")).toBe(1);
    expect(receiver.received).toHaveLength(0);
    expect(await db.knex("webhook_deliveries").where({ id: ref.deliveryId })).toEqual([]);
  });

  it("records nothing and ends the job when the subscription is removed while its request is out", async () => {
    const { subscription } = await webhooks.create(
      createWebhookInput.parse({ url: receiver.url, events: ["session.failed"] }),
    );
    await webhooks.test({ id: subscription.id });
    // A removal in flight: its transaction already holds the subscription row when the worker
    // comes to record the try. It then deletes the subscription, and the cascade its deliveries.
    const removal = await db.knex.transaction();
    try {
      await removal.raw("SELECT id FROM webhook_subscriptions WHERE id = ? FOR SHARE", [subscription.id]);
      const delivering = webhooks.deliverDue("w1");
      // Wait until the worker's transaction waits for a row lock the removal holds.
      for (let i = 0; ; i++) {
        const waiting = await db.knex
          .from("pg_locks as l")
          .join("pg_stat_activity as a", "a.pid", "l.pid")
          .where("l.granted", false)
          .andWhereRaw("a.datname = current_database()")
          .count<Array<{ count: string }>>("* as count");
        if (Number(waiting[0]?.count) > 0) break;
        if (i > 2_000) throw new Error("the worker never waited for the removal");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await removal.raw("DELETE FROM webhook_subscriptions WHERE id = ?", [subscription.id]);
      await removal.commit();
      expect(await delivering).toBe(1);
    } finally {
      if (!removal.isCompleted()) await removal.rollback();
    }
    expect(receiver.received).toHaveLength(1);
    expect(await db.knex("webhook_deliveries")).toEqual([]);
    expect(await db.knex("webhook_attempts")).toEqual([]);
    expect(await db.knex("jobs").select("status", "result")).toEqual([
      { status: "completed", result: { skipped: "gone" } },
    ]);
  });

  it("escapes what Slack would read as a mention or link", () => {
    const session = {
      id: "s1",
      externalId: null,
      title: "<!channel> fix a && b <https://x>",
      projectId: null,
      cwd: null,
      status: "failed" as const,
      previousStatus: "active" as const,
      statusReason: null,
    };
    expect(slackText({ id: "d1", event: "session.failed", occurredAt: "2026-12-01T00:00:00Z", session })).toBe(
      'Logbook: session "&lt;!channel&gt; fix a &amp;&amp; b &lt;https://x&gt;" is now failed.',
    );
  });

  it("waits longer after each failure, with jitter in the upper half", () => {
    expect(webhookBackoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(webhookBackoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(webhookBackoffMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(webhookBackoffMs(30, 1000, 60_000, () => 1)).toBe(60_000);
  });
});
