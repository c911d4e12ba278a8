import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { deadPort, FakeServer, runBinary, tempDir } from "../test/helpers.js";
import { judgeStdin } from "./record.js";

/**
 * The recording path through the real bundled binary: whatever arrives on stdin and whatever
 * the server does, exit code 0, nothing on stdout, a line in the log, and the event either
 * stored, spooled, or set aside in spool/rejected/.
 */

const payload = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    session_id: "s-1",
    transcript_path: "/t.jsonl",
    cwd: "/w",
    hook_event_name: "PreToolUse",
    tool_name: "Bash",
    ...extra,
  });

function files(dir: string): string[] {
  try {
    return (
      readdirSync(dir)
        // `<entry>.reason` beside a rejected entry says why it is there
        .filter((name) => !name.startsWith(".") && name !== "tmp" && name !== "rejected" && !name.endsWith(".reason"))
        .sort()
    );
  } catch {
    return [];
  }
}

function logOf(home: string): string {
  const path = join(home, "logs", "hook.log");
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

let down: string;
beforeAll(async () => {
  down = `http://127.0.0.1:${await deadPort()}`;
});

async function recordWith(stdin: string | Buffer, env: Record<string, string | undefined> = {}) {
  const home = tempDir("rec");
  const result = await runBinary([], {
    stdin,
    env: { LOGBOOK_HOME: home, LOGBOOK_URL: down, LOGBOOK_API_KEY: "lbk_test", ...env },
  });
  return {
    home,
    ...result,
    spooled: files(join(home, "spool")),
    rejected: files(join(home, "spool", "rejected")),
    log: logOf(home),
  };
}

describe("bad stdin never reaches the agent", () => {
  it("empty stdin: exit 0, silent, logged, nothing kept", async () => {
    const r = await recordWith("");
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.log).toMatch(/stdin was empty/);
    expect(r.spooled).toEqual([]);
    expect(r.rejected).toEqual([]);
  });

  it("whitespace only counts as empty", async () => {
    const r = await recordWith("  \n\t\n");
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(r.log).toMatch(/stdin was empty/);
  });

  it("text that is not JSON is kept in rejected/ as it came", async () => {
    const r = await recordWith('{"session_id": "s", oops');
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.log).toMatch(/not JSON/);
    expect(r.rejected).toHaveLength(1);
    expect(readFileSync(join(r.home, "spool", "rejected", expectDefined(r.rejected[0])), "utf8")).toBe(
      '{"session_id": "s", oops',
    );
    expect(r.spooled).toEqual([]);
  });

  it.each([
    ["a JSON array", `[${payload()}]`, /not an object \(array\)/],
    ["JSON null", "null", /not an object \(null\)/],
    ["a JSON string", '"PreToolUse"', /not an object \(string\)/],
    ["a JSON number", "42", /not an object \(number\)/],
    ["an object without session_id", JSON.stringify({ hook_event_name: "Stop" }), /no usable session_id/],
    ["an object without hook_event_name", JSON.stringify({ session_id: "s" }), /no usable hook_event_name/],
    [
      "a hook_event_name that is not a name",
      JSON.stringify({ session_id: "s", hook_event_name: "bad name!" }),
      /no usable hook_event_name/,
    ],
  ])("%s: exit 0, silent, rejected and logged", async (_label, stdin, logged) => {
    const r = await recordWith(stdin);
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.log).toMatch(logged);
    expect(r.rejected).toHaveLength(1);
    expect(r.spooled).toEqual([]);
  });

  it("binary garbage is kept byte for byte in rejected/", async () => {
    const garbage = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), randomBytes(64 * 1024)]);
    const r = await recordWith(garbage);
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.log).toMatch(/not JSON/);
    expect(r.rejected).toHaveLength(1);
    expect(readFileSync(join(r.home, "spool", "rejected", expectDefined(r.rejected[0]))).equals(garbage)).toBe(true);
  });

  it("a 20 MB payload with the server down: exit 0, silent, spooled whole", async () => {
    const huge = payload({ hook_event_name: "PostToolUse", tool_response: { stdout: "x".repeat(20 * 1024 * 1024) } });
    const r = await recordWith(huge);
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.log).toMatch(/spooled/);
    expect(r.spooled).toHaveLength(1);
    const envelope = JSON.parse(readFileSync(join(r.home, "spool", expectDefined(r.spooled[0])), "utf8")) as {
      payload: unknown;
    };
    expect(envelope.payload).toEqual(JSON.parse(huge));
  });

  it("an unknown event name is still an event: spooled while the server is down", async () => {
    const r = await recordWith(payload({ hook_event_name: "SomethingFromTheFuture", novel: { a: [1, 2] } }));
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.log).toMatch(/SomethingFromTheFuture.*ECONNREFUSED.*spooled/);
    expect(r.spooled).toHaveLength(1);
    expect(r.rejected).toEqual([]);
  });

  it("a LOGBOOK_HOME that cannot be created: still exit 0 and silent", async () => {
    const blocker = join(tempDir("rec"), "a-file");
    writeFileSync(blocker, "");
    const r = await recordWith(payload(), { LOGBOOK_HOME: join(blocker, "home") });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });

  it("no API key anywhere: spooled, and the log says why", async () => {
    const r = await recordWith(payload(), { LOGBOOK_API_KEY: undefined });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.log).toMatch(/no API key/);
    expect(r.spooled).toHaveLength(1);
  });
});

describe("judgeStdin", () => {
  it("accepts a byte-order mark and surrounding whitespace", () => {
    expect(judgeStdin(Buffer.from(`\ufeff \n${payload()}\n`))).toMatchObject({
      kind: "event",
      eventName: "PreToolUse",
      sessionId: "s-1",
    });
  });
});

describe("what the server answers (against a stand-in server: unit tests of the client)", () => {
  const fake = new FakeServer();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());

  // The hook's 400 ms budget is not what these tests check (the silent server's test does):
  // a generous one, so a loaded machine's slow answer is not taken for no answer.
  const patient = { LOGBOOK_HOOK_TIMEOUT_MS: "30000" };
  const send = (stdin: string, env: Record<string, string> = {}) =>
    recordWith(stdin, { LOGBOOK_URL: fake.url, ...patient, ...env });

  it("200: stored, nothing spooled, nothing logged; body and headers as the protocol says", async () => {
    fake.respond = () => undefined;
    const body = payload({ marker: randomBytes(4).toString("hex") });
    const r = await send(body);
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.spooled).toEqual([]);
    expect(r.log).toBe("");
    const request = expectDefined(fake.received.find((q) => q.body === body));
    expect(request.path).toBe("/hooks/claude-code");
    expect(request.headers["authorization"]).toBe("Bearer lbk_test");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["x-logbook-event-id"]).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(Number.isNaN(Date.parse(String(request.headers["x-logbook-occurred-at"])))).toBe(false);
    expect(request.headers["x-logbook-machine-id"]).toBe(hostname());
  });

  it("the key comes from $LOGBOOK_HOME/credentials when LOGBOOK_API_KEY is unset, and its url too", async () => {
    const home = tempDir("rec");
    writeFileSync(join(home, "credentials"), JSON.stringify({ apiKey: "lbk_from_file", url: fake.url }));
    const body = payload({ marker: "credentials" });
    const r = await runBinary([], {
      stdin: body,
      env: { LOGBOOK_HOME: home, LOGBOOK_URL: undefined, LOGBOOK_API_KEY: undefined, ...patient },
    });
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(fake.received.find((q) => q.body === body)?.headers["authorization"]).toBe("Bearer lbk_from_file");
  });

  it.each([400, 413, 422])("%i: the payload is bad: moved to rejected/, logged, not retried", async (status) => {
    fake.respond = (q) =>
      q.path === "/hooks/claude-code" ? { status, body: { error: { message: "nope" } } } : undefined;
    const r = await send(payload());
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.spooled).toEqual([]);
    expect(r.rejected).toHaveLength(1);
    expect(r.log).toMatch(new RegExp(`refused it \\(HTTP ${status}: nope\\)`));
  });

  it.each([401, 403])("%i: the key is bad: kept in the spool, logged", async (status) => {
    fake.respond = () => ({ status, body: { error: { message: "bad key" } } });
    const r = await send(payload());
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.spooled).toHaveLength(1);
    expect(r.log).toMatch(/refused the API key/);
  });

  it.each([500, 503])("%i: spooled, logged", async (status) => {
    fake.respond = () => ({ status, body: { error: { message: "down" } } });
    const r = await send(payload());
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.spooled).toHaveLength(1);
    expect(r.log).toMatch(new RegExp(`HTTP ${status}`));
  });

  it("a server that never answers: spooled after the short timeout, exit 0", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const r = await recordWith(payload(), { LOGBOOK_URL: url });
    for (const socket of sockets) socket.destroy();
    silent.close();
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.spooled).toHaveLength(1);
    expect(r.log).toMatch(/no answer .* within 400 ms.*spooled/);
  });
});
