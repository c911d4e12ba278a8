/**
 * Live subscriptions over SSE: a subscriber that leaves and comes back with its last
 * event id misses nothing; two server processes on one database see each other's events
 * (the NOTIFY bus); a subscriber whose server dies reconnects on its own and resumes.
 */
import { randomUUID } from "node:crypto";

import { createLogbookClient, type LogbookClient, type Session } from "@logbook/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { startTestServer, type TestServer } from "../testing/index.js";
import { startHarness, type Harness } from "./harness.js";

/** How long a wait here may take before it fails naming what never came (tests have 180 s). */
const DEADLINE_MS = 50_000;

function batch(externalSessionId: string, label: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({ externalSessionId, eventType: "tick", message: `${label}${i}` }));
}

let h: Harness;
let second: TestServer;
let onSecond: LogbookClient;

beforeAll(async () => {
  h = await startHarness();
  second = await startTestServer({ databaseUrl: h.db.url });
  onSecond = createLogbookClient({ url: second.url, apiKey: second.apiKey, retry: false });
});
afterAll(async () => {
  await second?.stop();
  await h?.stop();
});

describe("resuming with lastEventId", () => {
  it("a subscriber that disconnects and comes back misses no event and gets none twice", async () => {
    const externalSessionId = `resume-${randomUUID()}`;
    const first = await h.client.ingest(batch(externalSessionId, "a", 3));
    const session = await h.client.sessions.get.query({ externalId: externalSessionId });

    const received: string[] = [];
    let started = false;
    const following = h.client.followSession(session.id, {
      onEvent: (event) => received.push(event.id),
      onStarted: () => (started = true),
    });
    await waitFor("the subscription to start", () => started, { deadlineMs: DEADLINE_MS });
    const live = await h.client.ingest(batch(externalSessionId, "b", 5));
    await waitFor("the live events", () => received.length, { deadlineMs: DEADLINE_MS, accept: (n) => n === 5 });
    const resumeFrom = following.lastEventId;
    expect(resumeFrom).not.toBeNull();
    following.unsubscribe();

    // While nobody listens: more events, across several calls.
    const missed1 = await h.client.ingest(batch(externalSessionId, "c", 4));
    const missed2 = await h.client.ingest(batch(externalSessionId, "d", 2));

    const again: string[] = [];
    const resumed = h.client.followSession(session.id, {
      onEvent: (event) => again.push(event.id),
      lastEventId: resumeFrom,
    });
    await waitFor("the missed events to be replayed", () => again.length, {
      deadlineMs: DEADLINE_MS,
      accept: (n) => n >= 6,
    });
    const after = await h.client.ingest(batch(externalSessionId, "e", 3));
    await waitFor("the events after the resume", () => again.length, {
      deadlineMs: DEADLINE_MS,
      accept: (n) => n >= 9,
    });
    resumed.unsubscribe();

    expect(received).toEqual(live.ids);
    expect(again).toEqual([...missed1.ids, ...missed2.ids, ...after.ids]);
    expect(new Set([...received, ...again]).size).toBe(received.length + again.length);
    // Events from before the first subscription were not replayed (no lastEventId then).
    expect(received).not.toContain(first.ids[0]);
  });
});

describe("where a subscription without a resume point starts", () => {
  it("an event written once the subscription reported started reaches it, while the bus still waits for a writer", async () => {
    // A server of its own: its bus has had no event subscriber yet, so the first one makes
    // it establish where it starts (docs/scaling.md, "Resume positions"), and that waits
    // until every writer holding a position has ended.
    const fresh = await startTestServer({ databaseUrl: h.db.url });
    const trx = await h.db.knex.transaction();
    try {
      const externalSessionId = `join-${randomUUID()}`;
      await h.client.ingest(batch(externalSessionId, "before", 1));
      const session = await h.client.sessions.get.query({ externalId: externalSessionId });
      // A writer in flight, as an ingest between drawing its position and committing: the
      // bus cannot finish establishing before this transaction ends.
      await trx.raw("SELECT logbook_next_stream_seq()");

      const heard: Array<string | null> = [];
      let started = false;
      const client = createLogbookClient({ url: fresh.url, apiKey: fresh.apiKey, retry: false });
      const following = client.followSession(session.id, {
        onEvent: (event) => heard.push(event.message),
        onStarted: () => (started = true),
      });
      await waitFor("the subscription to start", () => started, { deadlineMs: DEADLINE_MS });
      // Written and committed after "started", while the bus still waits for the writer
      // above: the subscription's place was fixed when the call was accepted, so it gets it.
      await h.client.ingest(batch(externalSessionId, "after", 1));
      await trx.rollback();
      await waitFor("the event written after the start", () => [...heard], {
        deadlineMs: DEADLINE_MS,
        accept: (messages) => messages.length >= 1,
      });
      following.unsubscribe();
      expect(heard).toEqual(["after0"]);
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
      await fresh.stop();
    }
  });
});

describe("two server processes on one database", () => {
  it("an event ingested on one reaches a subscriber on the other", async () => {
    const externalSessionId = `replica-${randomUUID()}`;
    const received: Array<{ id: string; message: string | null }> = [];
    let started = false;
    const subscription = h.client.events.onEvent.subscribe(
      {},
      {
        onStarted: () => (started = true),
        onData: ({ data }) => {
          if (data.message?.startsWith("x")) received.push({ id: data.id, message: data.message });
        },
      },
    );
    await waitFor("the subscription to start", () => started, { deadlineMs: DEADLINE_MS });
    const sent = await onSecond.ingest(batch(externalSessionId, "x", 3));
    await waitFor("events from the other server", () => received.length, {
      deadlineMs: DEADLINE_MS,
      accept: (n) => n === 3,
    });
    subscription.unsubscribe();
    expect(received.map((e) => e.id)).toEqual(sent.ids);
  });

  it("session changes made on one reach a subscriber on the other", async () => {
    const seen: Array<Pick<Session, "id" | "label">> = [];
    let started = false;
    const subscription = h.client.sessions.onChange.subscribe(
      {},
      { onStarted: () => (started = true), onData: (session) => seen.push(session) },
    );
    await waitFor("the subscription to start", () => started, { deadlineMs: DEADLINE_MS });
    const created = await onSecond.sessions.create.mutate({ title: "made elsewhere" });
    await onSecond.sessions.update.mutate({ id: created.id, label: "changed elsewhere" });
    await waitFor("the session change", () => seen.filter((s) => s.id === created.id).map((s) => s.label), {
      deadlineMs: DEADLINE_MS,
      accept: (labels) => labels.includes("changed elsewhere"),
    });
    subscription.unsubscribe();
  });

  it("a subscriber whose server is killed reconnects by itself and misses nothing", async () => {
    const externalSessionId = `crash-${randomUUID()}`;
    const before = await onSecond.ingest(batch(externalSessionId, "p", 1));
    const session = await onSecond.sessions.get.query({ externalId: externalSessionId });

    const received: string[] = [];
    const heard: Array<string | null> = [];
    let starts = 0;
    // From right after the event written before, not "from now": a subscription without a
    // resume point starts where the server's bus stands when it joins, which may lie below
    // an event committed a moment earlier (docs/scaling.md, "Resume positions": it is then
    // delivered). That race made this test see `p0` under load; the reconnect it is about is
    // the same with a resume point. (It was also said to miss `q0` because tRPC sent
    // `connected` before the generator joined the bus; tRPC 11.25 runs the generator before
    // it finishes writing `connected`, and the test above checks that an event written
    // after onStarted arrives; if `q0` was ever missed, that was something else.)
    // The SDK as users have it (retries on): a reconnect may reach the restarted server while
    // it still answers 503 "starting" (it listens before its key and runtime file are
    // written); an EventSource takes any answer but 200 as final, so only the SDK's own retry
    // comes back from it. The harness's clients have retries off, and this test failed with
    // them whenever the reconnect hit that window (1 run in 10 at load ~20; CI once).
    const follower = createLogbookClient({ url: h.server.url, apiKey: h.server.apiKey });
    const errors: string[] = [];
    const following = follower.followSession(session.id, {
      lastEventId: before.ids[0] ?? null,
      onEvent: (event) => {
        received.push(event.id);
        heard.push(event.message);
      },
      onStarted: () => starts++,
      onError: (error) => errors.push(`${error.code}: ${error.message}`),
    });
    const heardAll = (n: number) => ({
      deadlineMs: DEADLINE_MS,
      accept: (messages: unknown[]) => messages.length >= n,
    });
    await waitFor("the subscription to start", () => starts, { deadlineMs: DEADLINE_MS, accept: (n) => n === 1 });
    const one = await onSecond.ingest(batch(externalSessionId, "q", 2));
    await waitFor("the first events", () => [...heard], heardAll(2));

    await h.server.kill("SIGKILL");
    // Written while the subscriber's server is down: only the other replica is up.
    const whileDown = await onSecond.ingest(batch(externalSessionId, "r", 3));
    await h.server.restart();
    await waitFor("the events written while the server was down", () => ({ heard: [...heard], errors }), {
      deadlineMs: DEADLINE_MS,
      accept: (seen) => seen.heard.length >= 5,
    });
    const afterRestart = await onSecond.ingest(batch(externalSessionId, "s", 2));
    await waitFor("the events after the restart", () => [...heard], heardAll(7));
    following.unsubscribe();

    expect(errors).toEqual([]);
    expect(heard).toEqual(["q0", "q1", "r0", "r1", "r2", "s0", "s1"]);
    expect(received).toEqual([...one.ids, ...whileDown.ids, ...afterRestart.ids]);
    expect(received).not.toContain(before.ids[0]);
  });
});
