/**
 * A key that stops being valid stops receiving: revoking it (on any replica) or reaching
 * its expiry closes its open live streams with UNAUTHORIZED, on every server. Before, the
 * key was checked only when the stream opened and kept receiving every new event.
 */
import { randomUUID } from "node:crypto";

import { createLogbookClient, isLogbookError, type LogbookClient } from "@logbook/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { startTestServer, type TestServer } from "../testing/index.js";
import { startHarness, type Harness } from "./harness.js";

/** How long a wait here may take before it fails naming what never came (tests have 180 s). */
const DEADLINE_MS = 50_000;

let h: Harness;
let second: TestServer;

beforeAll(async () => {
  h = await startHarness();
  second = await startTestServer({ databaseUrl: h.db.url });
});
afterAll(async () => {
  await second?.stop();
  await h?.stop();
});

interface Watch {
  messages: string[];
  errors: unknown[];
  started: boolean;
  stop(): void;
}

/** An all-events subscription that records the messages of `marker`'s events. */
function watch(client: LogbookClient, marker: string): Watch {
  const state: Watch = { messages: [], errors: [], started: false, stop: () => undefined };
  const subscription = client.events.onEvent.subscribe(
    {},
    {
      onStarted: () => (state.started = true),
      onData: ({ data }) => {
        if (data.message?.startsWith(marker)) state.messages.push(data.message);
      },
      onError: (error) => state.errors.push(error),
    },
  );
  state.stop = () => subscription.unsubscribe();
  return state;
}

const note = (marker: string, text: string) => [
  { externalSessionId: `streams-${marker}`, eventType: "note", message: `${marker}${text}` },
];

function unauthorized(errors: unknown[]): string | undefined {
  const error = errors.find((e) => isLogbookError(e) || e instanceof Error);
  if (!error) return undefined;
  const code = isLogbookError(error) ? error.code : (error as { data?: { code?: string } }).data?.code;
  return code === "UNAUTHORIZED" ? (error as Error).message : `not UNAUTHORIZED: ${String(code)}`;
}

describe("revoked and expired keys lose their live streams", () => {
  it("revoking a key on one server closes its streams on both, and they receive nothing more", async () => {
    const marker = `rv${randomUUID().slice(0, 8)}-`;
    const created = await h.admin.apiKeys.create.mutate({ name: "to-revoke", scopes: ["read"] });
    const doomedHere = watch(h.clientFor(created.secret), marker);
    const doomedThere = watch(createLogbookClient({ url: second.url, apiKey: created.secret, retry: false }), marker);
    const controlThere = watch(createLogbookClient({ url: second.url, apiKey: second.apiKey, retry: false }), marker);
    await waitFor("the streams to open", () => [doomedHere.started, doomedThere.started, controlThere.started], {
      deadlineMs: DEADLINE_MS,
      accept: (started) => started.every(Boolean),
    });

    await h.client.ingest(note(marker, "before"));
    await waitFor("the first event on both streams", () => [doomedHere.messages.length, doomedThere.messages.length], {
      deadlineMs: DEADLINE_MS,
      accept: (counts) => counts.every((n) => n === 1),
    });

    await h.admin.apiKeys.revoke.mutate({ id: created.key.id });
    await waitFor(
      "both streams of the revoked key to be closed",
      () => [doomedHere.errors.length, doomedThere.errors.length],
      { deadlineMs: DEADLINE_MS, accept: (counts) => counts.every((n) => n > 0) },
    );
    expect(unauthorized(doomedHere.errors)).toMatch(/revoked/);
    expect(unauthorized(doomedThere.errors)).toMatch(/revoked/);

    // The control stream on the same server hears the next event: the revoked ones did not.
    await h.client.ingest(note(marker, "after"));
    await waitFor("the control stream to hear the next event", () => [...controlThere.messages], {
      deadlineMs: DEADLINE_MS,
      accept: (messages) => messages.includes(`${marker}after`),
    });
    expect(doomedHere.messages).toEqual([`${marker}before`]);
    expect(doomedThere.messages).toEqual([`${marker}before`]);
    for (const w of [doomedHere, doomedThere, controlThere]) w.stop();
  });

  it("a key's streams close when it expires", async () => {
    const marker = `ex${randomUUID().slice(0, 8)}-`;
    const expiresAt = new Date(Date.now() + 3_000).toISOString();
    const created = await h.admin.apiKeys.create.mutate({ name: "short-lived", scopes: ["read"], expiresAt });
    const expiring = watch(h.clientFor(created.secret), marker);
    const control = watch(h.client, marker);
    await waitFor("the streams to open", () => [expiring.started, control.started], {
      deadlineMs: DEADLINE_MS,
      accept: (started) => started.every(Boolean),
    });

    await waitFor("the stream of the expired key to be closed", () => expiring.errors.length, {
      deadlineMs: DEADLINE_MS,
    });
    expect(unauthorized(expiring.errors)).toMatch(/expired/);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));

    await h.client.ingest(note(marker, "after"));
    await waitFor("the control stream to hear the event", () => [...control.messages], {
      deadlineMs: DEADLINE_MS,
      accept: (messages) => messages.includes(`${marker}after`),
    });
    expect(expiring.messages).toEqual([]);
    expiring.stop();
    control.stop();
  });
});
