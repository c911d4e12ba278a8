import { findFreePort } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import { startTestServer, type TestServer } from "@logbook/server/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { spawnCli, watchLines } from "./helpers.js";

/**
 * `logbook tail` end to end: the built binary follows a real server over SSE. Two servers
 * share one database (as replicas behind a load balancer would), so events can be stored
 * through one while the server `tail` follows is down; on its return, `tail` must print
 * exactly those events, once, and carry on live.
 */

let db: TestDatabase;
let followed: TestServer;
let other: TestServer;
let viaFollowed: LogbookClient;
let viaOther: LogbookClient;

beforeAll(async () => {
  db = await createTestDatabase();
  followed = await startTestServer({ databaseUrl: db.url });
  other = await startTestServer({ databaseUrl: db.url });
  viaFollowed = createLogbookClient({ url: followed.url, apiKey: followed.apiKey });
  viaOther = createLogbookClient({ url: other.url, apiKey: other.apiKey });
}, 180_000);

afterAll(async () => {
  await followed?.stop();
  await other?.stop();
  await db?.destroy();
});

interface TailLine {
  id: string;
  event: { id: string; sessionId: string; eventType: string; message: string | null };
  timeline: Array<{ kind: string; text: string }>;
}

const parse = (lines: string[]) => lines.filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as TailLine);

function note(externalSessionId: string, message: string) {
  return { externalSessionId, eventType: "note", message };
}

describe("logbook tail", () => {
  it("prints a session's last entries, then its new events live, and stops on Ctrl-C with exit 0", async () => {
    await viaFollowed.ingest([
      note("tail-one", "before 1"),
      note("tail-one", "before 2"),
      note("tail-one", "before 3"),
    ]);
    const child = spawnCli(["tail", "tail-one", "-n", "2"], {
      LOGBOOK_URL: followed.url,
      LOGBOOK_API_KEY: followed.apiKey,
      TZ: "Pacific/Kiritimati",
    });
    const watch = watchLines(child);
    await watch.until((seen) => seen.stderr.some((l) => l.startsWith("following the session")), "it followed");
    // Its times are this machine's, as everywhere in the CLI, and it says in which zone.
    expect(watch.lines.stderr.find((l) => l.startsWith("following"))).toContain("times in Pacific/Kiritimati");
    await viaFollowed.ingest([
      note("tail-one", "live 1"),
      note("other-session", "not this one"),
      note("tail-one", "live 2"),
    ]);
    await watch.until((seen) => seen.stdout.some((l) => l.includes("live 2")), "the second live event");
    child.kill("SIGINT");
    expect(await watch.exited).toBe(0);
    const text = watch.lines.stdout.join("\n");
    expect(text).not.toContain("before 1");
    expect(text).toMatch(/before 2[\s\S]*before 3[\s\S]*live 1[\s\S]*live 2/);
    expect(text).not.toContain("not this one");
  });

  it("--json: one event per line; resumes after a dropped connection without losing or repeating any", async () => {
    const child = spawnCli(["tail", "--json"], { LOGBOOK_URL: followed.url, LOGBOOK_API_KEY: followed.apiKey });
    const watch = watchLines(child);
    await watch.until((seen) => seen.stderr.some((l) => l.startsWith("following every session")), "it followed");

    await viaFollowed.ingest([note("tail-two", "first")]);
    await watch.until((seen) => parse(seen.stdout).length === 1, "the first event");

    // The followed server goes away; events keep arriving through the other one.
    await followed.kill("SIGKILL");
    await watch.until((seen) => seen.stderr.some((l) => l.startsWith("connection lost")), "it noticed the drop");
    await viaOther.ingest([note("tail-two", "while down 1"), note("tail-three", "while down 2")]);

    await followed.restart();
    await watch.until((seen) => parse(seen.stdout).length >= 3, "the events stored while it was down");
    await viaOther.ingest([note("tail-two", "after")]);
    await watch.until((seen) => parse(seen.stdout).some((l) => l.event.message === "after"), "the event after");

    child.kill("SIGTERM");
    expect(await watch.exited).toBe(0);
    const lines = parse(watch.lines.stdout);
    expect(lines.map((l) => l.event.message)).toEqual(["first", "while down 1", "while down 2", "after"]);
    expect(new Set(lines.map((l) => l.event.id)).size).toBe(4);
    expect(expectDefined(lines[0]).timeline).toEqual([expect.objectContaining({ kind: "lifecycle", text: "first" })]);
    expect(watch.lines.stderr.some((l) => l.startsWith("reconnected"))).toBe(true);
  });

  it("says in words that the server closed the stream when it stops, and carries on when it is back", async () => {
    const child = spawnCli(["tail"], { LOGBOOK_URL: followed.url, LOGBOOK_API_KEY: followed.apiKey });
    const watch = watchLines(child);
    await watch.until((seen) => seen.stderr.some((l) => l.startsWith("following every session")), "it followed");
    // A graceful stop (SIGTERM), as a restart or a deploy does: the open stream is cut.
    await followed.kill("SIGTERM");
    await watch.until((seen) => seen.stderr.some((l) => l.startsWith("connection lost")), "it noticed the drop");
    const lost = expectDefined(watch.lines.stderr.find((l) => l.startsWith("connection lost")));
    expect(lost).toBe(
      `connection lost: the server at ${followed.url} closed the stream (it stopped or restarted); reconnecting… (Ctrl-C to stop)`,
    );
    await followed.restart();
    await watch.until((seen) => seen.stderr.some((l) => l.startsWith("reconnected")), "it reconnected");
    await viaFollowed.ingest([note("tail-back", "after the restart")]);
    await watch.until((seen) => seen.stdout.some((l) => l.includes("after the restart")), "the event after");
    child.kill("SIGINT");
    expect(await watch.exited).toBe(0);
    expect(watch.lines.stderr.join("\n")).not.toMatch(/TypeError|terminated/);
  });

  it("ends with exit 4 when its key is revoked while it follows", async () => {
    const admin = createLogbookClient({ url: followed.url, apiKey: await followed.createKey(["admin"], "tail-admin") });
    const created = await admin.apiKeys.create.mutate({ name: "tail-reader", scopes: ["read"] });
    const child = spawnCli(["tail"], { LOGBOOK_URL: followed.url, LOGBOOK_API_KEY: created.secret });
    const watch = watchLines(child);
    await watch.until((seen) => seen.stderr.some((l) => l.startsWith("following every session")), "it followed");
    await admin.apiKeys.revoke.mutate({ id: created.key.id });
    expect(await watch.exited).toBe(4);
    expect(watch.lines.stderr.join("\n")).toContain("refused the API key");
    expect(watch.lines.stderr.join("\n")).not.toContain(created.secret);
  });

  it("exits 3 for a session that does not exist, 4 when no server answers or the key is refused", async () => {
    const missing = spawnCli(["tail", "no-such-session"], {
      LOGBOOK_URL: followed.url,
      LOGBOOK_API_KEY: followed.apiKey,
    });
    expect(await watchLines(missing).exited).toBe(3);
    const down = spawnCli(["tail"], {
      LOGBOOK_URL: `http://127.0.0.1:${await findFreePort()}`,
      LOGBOOK_API_KEY: "lbk_x",
    });
    const downWatch = watchLines(down);
    expect(await downWatch.exited).toBe(4);
    expect(downWatch.lines.stderr.join("\n")).toContain("cannot reach the Logbook server");
    const refused = spawnCli(["tail"], { LOGBOOK_URL: followed.url, LOGBOOK_API_KEY: "lbk_000000000000_notarealkey" });
    const watch = watchLines(refused);
    expect(await watch.exited).toBe(4);
    expect(watch.lines.stderr.join("\n")).toContain("refused the API key");
  });

  it("refuses -n without a session with exit 2 (there is no history to print)", async () => {
    const child = spawnCli(["tail", "-n", "5"], { LOGBOOK_URL: followed.url, LOGBOOK_API_KEY: followed.apiKey });
    const watch = watchLines(child);
    expect(await watch.exited).toBe(2);
    expect(watch.lines.stderr.join("\n")).toContain("-n/--lines needs a session");
  });
});
