/**
 * The server as an operator meets it: the first-start key in a 0600 credentials file
 * (its path logged, never the secret), the `keys`, `migrate` and `reindex-search` commands, a clear exit 2
 * for bad configuration, a restart that keeps the key, and a graceful stop on SIGTERM
 * with a live subscription open, or with a request in flight and an idle keep-alive connection.
 */
import { spawn } from "node:child_process";
import http from "node:http";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { findFreePort } from "@logbook/db";
import { createTestDatabase } from "@logbook/db/testing";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { SERVER_ENTRY, startTestServer } from "../testing/index.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  // A verified key is trusted for 10 minutes here: a revocation by another process can only
  // reach this server in time through its announcement (NOTIFY), not by the cache expiring.
  h = await startHarness({ env: { API_KEY_CACHE_MS: "600000" } });
});
afterAll(() => h?.stop());

function run(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [SERVER_ENTRY, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("close", (code) => resolve({ code, stderr }));
  });
}

describe("first start", () => {
  it("writes the local key to $LOGBOOK_HOME/credentials (0600) and logs the path, not the secret", async () => {
    const path = join(h.server.home, "credentials");
    const credentials = JSON.parse(await readFile(path, "utf8")) as { apiKey: string; url: string };
    expect(credentials).toEqual({ apiKey: h.server.apiKey, url: h.server.url });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const logs = h.server.logs().join("\n");
    expect(logs).toContain(path);
    expect(logs).not.toContain(credentials.apiKey);
    // The secret part (`lbk_<prefix>_<secret>`): base64url, so it may itself hold a "_".
    expect(logs).not.toContain(credentials.apiKey.split("_").slice(2).join("_"));
  });
});

describe("start log", () => {
  it("says where it listens and the heap growth it set (20% unless HEAP_GROWTH_PERCENT says otherwise)", () => {
    const lines = h.server.logs().flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const listening = lines.find((line) => String(line.msg).startsWith("logbook-server listening on"));
    expect(listening).toMatchObject({ url: h.server.url, heapGrowthPercent: 20 });
  });
});

describe("first start, watched closely", () => {
  it("is not ready before the credentials file holds its key: at the first 200 from /health it does", async () => {
    // A harness (or a hook) that reads the credentials once /health answers 200 found no file,
    // or an empty one, when the server answered before it had written it (a race under load).
    const db = await createTestDatabase();
    const home = await mkdtemp(join(tmpdir(), "logbook-first-start-"));
    const port = await findFreePort();
    const child = spawn(process.execPath, [SERVER_ENTRY], {
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, LOGBOOK_HOME: home, HOST: "127.0.0.1", PORT: String(port) },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const statuses = new Set<number>();
      // Asked back to back once it listens, so a window between listening and writing is likely
      // hit (hence a loop of its own, not waitFor's pause between probes); bounded all the same.
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`no 200 from /health within 60 s (saw ${[...statuses].join(", ")})`);
        const status = await fetch(`http://127.0.0.1:${port}/health`).then(
          (response) => response.arrayBuffer().then(() => response.status),
          () => 0, // not listening yet
        );
        statuses.add(status);
        if (status === 200) break;
        if (status === 0) await new Promise((resolve) => setTimeout(resolve, 20)); // nothing listens yet
        if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) while starting`);
      }
      const credentials = JSON.parse(await readFile(join(home, "credentials"), "utf8")) as {
        apiKey: string;
        url: string;
      };
      expect(credentials.url).toBe(`http://127.0.0.1:${port}`);
      const answer = await fetch(`http://127.0.0.1:${port}/trpc/sessions.list`, {
        headers: { authorization: `Bearer ${credentials.apiKey}` },
      });
      expect(answer.status).toBe(200);
      // Whatever it answered before was "not ready", never anything else.
      expect([...statuses].every((status) => [0, 503, 200].includes(status))).toBe(true);
    } finally {
      child.kill("SIGTERM");
      await exited;
      await rm(home, { recursive: true, force: true });
      await db.destroy();
    }
  });
});

describe("commands", () => {
  it("keys create / list / revoke", async () => {
    const created = await h.server.runCommand(["keys", "create", "--name", "cli-key", "--scopes", "read,ingest"]);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^lbk_/);
    expect(created.stderr).toMatch(/created API key 'cli-key'/);
    const client = h.clientFor(secret);
    expect(await client.auth.whoami.query()).toMatchObject({ name: "cli-key", scopes: ["ingest", "read"] });

    const listed = await h.server.runCommand(["keys", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/cli-key/);
    expect(listed.stdout).not.toContain(secret);
    const id = expectDefined(
      expectDefined(listed.stdout.split("\n").find((line) => line.includes("cli-key"))).split(" ")[0],
    );

    const revoked = await h.server.runCommand(["keys", "revoke", id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout + revoked.stderr).toMatch(/refuse it at once/);
    // Revoked by another process (the CLI): the server has the key cached for 10 minutes, and
    // refuses it as soon as the revocation's NOTIFY arrives (asynchronously, hence the poll).
    const refused = await waitFor(
      "the revoked key refused",
      () =>
        client.auth.whoami.query().then(
          () => null,
          (error: unknown) => error,
        ),
      { deadlineMs: 60_000, everyMs: 250, accept: (error) => error !== null },
    );
    expect(refused).toMatchObject({ code: "UNAUTHORIZED" });

    const bad = await h.server.runCommand(["keys", "create", "--name", "x", "--scopes", "root"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--scopes/);
    expect(bad.stderr).toContain("(valid scopes: ingest, read, admin)");
    const dayOnly = await h.server.runCommand([
      "keys",
      "create",
      "--name",
      "x",
      "--scopes",
      "read",
      "--expires-at",
      "2027-01-31",
    ]);
    expect(dayOnly.code).toBe(2);
    // One problem, said once, without a scopes hint it has nothing to do with.
    expect(dayOnly.stderr).toContain("--expires-at: must be an ISO-8601 date-time, e.g. 2026-11-22T14:00:00Z\n");
    expect(dayOnly.stderr).not.toContain("valid scopes");
    expect(dayOnly.stderr.match(/--expires-at/g)).toHaveLength(1);
    for (const help of [
      ["keys", "--help"],
      ["keys", "create", "--help"],
    ]) {
      const shown = await h.server.runCommand(help);
      expect(shown.code, help.join(" ")).toBe(0);
      expect(shown.stdout).toContain("keys create --name NAME --scopes S");
    }
    const unknownId = await h.server.runCommand(["keys", "revoke", "00000000-0000-4000-8000-000000000000"]);
    expect(unknownId.code).toBe(1);
    expect(unknownId.stderr).toMatch(/not found/);
    // Seven CLI processes, each loading the whole server bundle: on a loaded 2-core machine five
    // alone took past the default 60 s. A bound on the wait, not on speed.
  }, 240_000);

  it("migrate reports an up-to-date database", async () => {
    const result = await h.server.runCommand(["migrate"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/already up to date/);
  });

  it("reindex-search reads every partition while the server runs, and refuses bad flags", async () => {
    // Which rows it rewrites, and that nothing else of them changes: packages/db search-reindex.test.ts.
    const result = await h.server.runCommand(["reindex-search", "--pages-per-batch", "2"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/events_default: \d+ pages read, 0 rows rewritten/);
    expect(result.stdout).toMatch(
      /^search index up to date: 0 rows rewritten, \d+ partitions \(\d+ pages\) read in [\d.]+ s\n$/,
    );
    const zero = await h.server.runCommand(["reindex-search", "--pages-per-batch", "0"]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--pages-per-batch must be a whole number from 1/);
    const unknown = await h.server.runCommand(["reindex-search", "--everything"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--everything/);
  }, 120_000);

  it("exits 2 naming each bad variable, without starting", async () => {
    const result = await run([], { PORT: "not-a-port", LOG_LEVEL: "chatty", DATABASE_URL: h.db.url });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/PORT: must be a number \(got "not-a-port"\)/);
    expect(result.stderr).toMatch(/LOG_LEVEL: must be one of/);
  });

  it("exits 2 for an unknown command", async () => {
    const result = await run(["frobnicate"], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command "frobnicate"/);
  });
});

describe("restart and stop", () => {
  it("starts with an acquire timeout shorter than a first connection takes: start-up waits for the pool's first connection", async () => {
    // 1 ms: no new PostgreSQL connection (a backend forked, a password checked) is made that
    // fast, so the start's first use of the pool (the bootstrap key) timed out and the
    // process exited 1; a loaded machine did the same to the reliability suite's 500 ms.
    const tight = await startTestServer({
      databaseUrl: h.db.url,
      env: { DATABASE_ACQUIRE_TIMEOUT_MS: "1", DATABASE_POOL_MAX: "2" },
    });
    try {
      expect(tight.exit).toBeNull();
      // Up, and it reaches the database through that pool. Not on the first /health: its probe
      // takes a connection with the same 1 ms to wait, and on a busy machine the pool's two
      // may both be in use (or not yet made) at that moment, which answers 503 (CI saw it).
      await waitFor(
        "the tight server's /health to answer 200",
        async () => (await fetch(`${tight.url}/health`)).status,
        {
          deadlineMs: 30_000,
          everyMs: 200,
          accept: (status) => status === 200,
        },
      );
      expect(tight.exit).toBeNull();
    } finally {
      await tight.stop();
    }
  });

  it("a restart keeps the data and the key", async () => {
    const session = await h.client.sessions.create.mutate({ title: "survives" });
    await h.server.restart();
    expect(await h.client.sessions.get.query({ id: session.id })).toMatchObject({ title: "survives" });
    const credentials = JSON.parse(await readFile(join(h.server.home, "credentials"), "utf8")) as { apiKey: string };
    expect(credentials.apiKey).toBe(h.server.apiKey);
  });

  it("SIGTERM with a subscription open: the stream is cut, the process exits 0", async () => {
    let started = false;
    const subscription = h.client.events.onEvent.subscribe({}, { onStarted: () => (started = true) });
    await waitFor("the subscription to start", () => started, { deadlineMs: 30_000 });
    await h.server.kill("SIGTERM");
    subscription.unsubscribe();
    expect(h.server.exit).toEqual({ code: 0, signal: null });
    expect(h.server.logs().join("\n")).toMatch(/"msg":"stopped"/);
    await h.server.restart(); // for afterAll's stop
  });

  it("SIGTERM with a request in flight and an idle keep-alive connection: the request is answered, its event kept, the process exits 0", async () => {
    const { hostname, port } = new URL(h.server.url);
    const authorization = `Bearer ${h.server.apiKey}`;
    // An idle keep-alive connection: one answered request on it, the socket left open.
    const agent = new http.Agent({ keepAlive: true });
    const idle = await new Promise<number | undefined>((resolve, reject) =>
      http
        .get({ hostname, port, path: "/health", agent }, (res) => res.resume().on("end", () => resolve(res.statusCode)))
        .on("error", reject),
    );
    expect(idle).toBe(200);

    // A request in flight: its headers are in, its body not yet. The server's 100 Continue
    // says it took the request (Node runs the request listener as it writes it).
    const body = JSON.stringify({
      events: [{ externalSessionId: "stop-in-flight", eventType: "Notification", source: "hook", payload: { n: 1 } }],
    });
    const inFlight = http.request({
      hostname,
      port,
      method: "POST",
      path: "/trpc/events.ingest",
      agent: false,
      headers: {
        authorization,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        expect: "100-continue",
      },
    });
    const answered = new Promise<{ status: number | undefined; text: string }>((resolve, reject) => {
      inFlight.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode, text }));
      });
      inFlight.on("error", reject);
    });
    await new Promise<void>((resolve) => inFlight.once("continue", () => resolve()));

    const stopped = h.server.kill("SIGTERM");
    // The stop has begun (and waits for this request) before the body is sent.
    await waitFor(
      "the stop to begin",
      () => h.server.logs().some((line) => line.includes("finishing requests in flight")),
      {
        deadlineMs: 30_000,
        everyMs: 20,
      },
    );
    inFlight.end(body);
    const answer = await answered;
    await stopped;
    agent.destroy();

    expect(answer.status).toBe(200);
    const ids = (JSON.parse(answer.text) as { result: { data: { accepted: number; ids: string[] } } }).result.data;
    expect(ids.accepted).toBe(1);
    expect(h.server.exit).toEqual({ code: 0, signal: null });
    await h.server.restart();
    const stored = await h.client.events.get.query({ id: expectDefined(ids.ids[0]) });
    expect(stored).toMatchObject({ eventType: "Notification", payload: { n: 1 } });
  });
});
