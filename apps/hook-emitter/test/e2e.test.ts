import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { hookFixtures, transcriptFixtures } from "@logbook/fixtures";
import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { checkHooksBackground, checkHooksDirect, checkTranscriptImport } from "./e2e-checks.js";
import { countOf, e2e, emitterEnv, rejectedFiles, rowsOf, sleep, spoolFiles, startE2E } from "./e2e-harness.js";
import { runBinary, tempDir } from "./helpers.js";

/**
 * End to end: the built `logbook-hook` binary against the real, built Logbook server on a
 * real PostgreSQL database (see e2e-harness.ts), with our fixtures; e2e.corpus.test.ts runs
 * the same data checks over the external real corpus.
 */
startE2E();

describe("hook events through the real binary into the real server", () => {
  it("every fixture payload is stored whole, in the right session; subagent events in child sessions", async () => {
    await checkHooksDirect(hookFixtures());
  }, 900_000);

  it("background delivery (the default): every fixture payload stored once and whole, in capture order; the deliverer then exits", async () => {
    await checkHooksBackground(hookFixtures());
  }, 300_000);

  it("a 20 MB payload: exit 0, silent; the server refuses it, so it goes to rejected/ and the log", async () => {
    const home = tempDir("e2e-huge");
    const huge = JSON.stringify({
      session_id: `e2e-huge-${randomBytes(4).toString("hex")}`,
      hook_event_name: "PostToolUse",
      tool_response: "x".repeat(20 * 1024 * 1024),
    });
    const r = await runBinary([], { stdin: huge, env: emitterEnv(home, { LOGBOOK_HOOK_TIMEOUT_MS: "10000" }) });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(rejectedFiles(home)).toHaveLength(1);
    expect(readFileSync(join(home, "logs", "hook.log"), "utf8")).toMatch(/refused it \(HTTP 413/);
  });

  it("a number JavaScript cannot hold (1e400): spooled as written, never as null; the server refuses it naming the number", async () => {
    const home = tempDir("e2e-inexact");
    const sessionId = `e2e-inexact-${randomBytes(4).toString("hex")}`;
    const stdin = `{"session_id":"${sessionId}","hook_event_name":"PostToolUse","tool_response":{"n":1e400}}`;
    const r = await runBinary([], { stdin, env: emitterEnv(home, { LOGBOOK_HOOK_DELIVERY: "direct" }) });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const [rejected] = rejectedFiles(home);
    expect(readFileSync(join(home, "spool", "rejected", expectDefined(rejected)), "utf8")).toContain('{"n":1e400}');
    expect(readFileSync(join(home, "logs", "hook.log"), "utf8")).toMatch(
      /tool_response\.n: the number 1e400 cannot be stored exactly/,
    );
    expect(await countOf("SELECT 1 FROM events WHERE payload->>'session_id' = ?", [sessionId])).toBe(0);
  });

  it("a NUL character and a lone surrogate: stored as U+FFFD, and the log says so", async () => {
    const home = tempDir("e2e-nul");
    const sessionId = `e2e-nul-${randomBytes(4).toString("hex")}`;
    const stdin = `{"session_id":"${sessionId}","hook_event_name":"PostToolUse","tool_response":{"out":"a\\u0000b\\ud800"}}`;
    const r = await runBinary([], { stdin, env: emitterEnv(home, { LOGBOOK_HOOK_DELIVERY: "direct" }) });
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const [row] = await rowsOf<{ out: string }>(
      "SELECT payload->'tool_response'->>'out' AS out FROM events WHERE payload->>'session_id' = ?",
      [sessionId],
    );
    expect(expectDefined(row).out).toBe("a\uFFFDb\uFFFD");
    expect(readFileSync(join(home, "logs", "hook.log"), "utf8")).toContain(
      ": 2 characters PostgreSQL cannot hold stored as U+FFFD",
    );
  });

  it("a wrong key: the event stays spooled and the log says so; status reports the key as invalid", async () => {
    const home = tempDir("e2e-key");
    const r = await runBinary([], {
      stdin: JSON.stringify({ session_id: "e2e-key", hook_event_name: "Stop" }),
      env: emitterEnv(home, { LOGBOOK_API_KEY: "lbk_wrong" }),
    });
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(spoolFiles(home)).toHaveLength(1);
    expect(readFileSync(join(home, "logs", "hook.log"), "utf8")).toMatch(/refused the API key \(HTTP 401/);
    const bad = await runBinary(["status", "--json"], { env: emitterEnv(home, { LOGBOOK_API_KEY: "lbk_wrong" }) });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      server: { reachable: true },
      key: { valid: false, checked: true, error: "HTTP 401" },
      spool: { events: 1 },
    });
    const text = await runBinary(["status"], { env: emitterEnv(home, { LOGBOOK_API_KEY: "lbk_wrong" }) });
    expect(text.stdout).toMatch(/^key {6}NOT valid \(HTTP 401\)/m);
    const good = await runBinary(["status", "--json"], { env: emitterEnv(home) });
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ server: { reachable: true }, key: { valid: true } });
    // with the right key, the spooled event goes in
    expect((await runBinary(["flush"], { env: emitterEnv(home) })).code).toBe(0);
    expect(await countOf("SELECT 1 FROM events WHERE payload->>'session_id' = 'e2e-key'")).toBe(1);
  });
});

describe("spool and recovery against the real server", () => {
  it("server down: spooled; server up: flushed exactly once, in capture order", async () => {
    const home = tempDir("e2e-down");
    const session = `e2e-down-${randomBytes(4).toString("hex")}`;
    await e2e.server.kill();
    try {
      for (let n = 0; n < 25; n++) {
        const r = await runBinary([], {
          stdin: JSON.stringify({ session_id: session, hook_event_name: "PreToolUse", tool_name: "Bash", n }),
          env: emitterEnv(home),
        });
        expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
      }
      // Down, the server says nothing of the key: not checked, which is not "not valid".
      const status = await runBinary(["status"], { env: emitterEnv(home) });
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/^key {6}not checked \(server unreachable\)/m);
    } finally {
      await e2e.server.restart();
    }
    const spooled = spoolFiles(home).sort();
    expect(spooled).toHaveLength(25);
    expect(readFileSync(join(home, "logs", "hook.log"), "utf8")).toMatch(/spooled/);

    const flush = await runBinary(["flush"], { env: emitterEnv(home) });
    expect(flush.code).toBe(0);
    expect(flush.stdout).toContain("sent 25 (25 new, 0 already stored), 0 left");
    expect(spoolFiles(home)).toEqual([]);
    const stored = await rowsOf<{ id: string; payload: { n: number } }>(
      "SELECT e.id, e.payload FROM events e JOIN sessions s ON s.id = e.session_id WHERE s.external_id = ? ORDER BY e.seq",
      [session],
    );
    expect(stored.map((e) => `${e.id}.json`)).toEqual(spooled);
    expect(stored.map((e) => e.payload.n)).toEqual(Array.from({ length: 25 }, (_, n) => n));

    // a second flush has nothing to send; a new event goes straight in
    expect((await runBinary(["flush"], { env: emitterEnv(home) })).stdout).toContain("sent 0");
    await runBinary([], {
      stdin: JSON.stringify({ session_id: session, hook_event_name: "Stop", n: 25 }),
      env: emitterEnv(home),
    });
    expect(
      await countOf("SELECT 1 FROM events e JOIN sessions s ON s.id = e.session_id WHERE s.external_id = ?", [session]),
    ).toBe(26);
  }, 300_000);

  // Background (the default): every event is spooled and the deliverer sends through the
  // outages. Direct: each hook posts, spools what fails, and hooks flush each other's spool.
  it.each([
    { delivery: "background", outageLogged: / warn deliver: .*; retrying/ },
    { delivery: "direct", outageLogged: /: spooled/ },
  ])(
    "20 concurrent emitters ($delivery delivery) while the server goes away and comes back: nothing lost, nothing doubled",
    async ({ delivery, outageLogged }) => {
      const home = tempDir(`e2e-chaos-${delivery}`);
      const run = randomBytes(4).toString("hex");
      const emitters = 20;
      const perEmitter = 8;
      let emitting = true;
      const chaos = (async () => {
        for (let round = 0; round < 2 && emitting; round++) {
          await sleep(1_500);
          await e2e.server.kill();
          await sleep(1_500);
          await e2e.server.restart();
        }
      })();
      const results = await Promise.all(
        Array.from({ length: emitters }, async (_, e) => {
          const out = [];
          for (let n = 0; n < perEmitter; n++) {
            const payload = {
              session_id: `e2e-chaos-${run}-${e % 4}`,
              hook_event_name: "PostToolUse",
              tool_name: "Read",
              marker: `${e}-${n}`,
            };
            out.push(
              await runBinary([], {
                stdin: JSON.stringify(payload),
                env: emitterEnv(home, {
                  LOGBOOK_NO_BACKGROUND_FLUSH: undefined,
                  LOGBOOK_HOOK_DELIVERY: delivery,
                  LOGBOOK_DELIVER_IDLE_MS: "3000",
                }),
              }),
            );
          }
          return out;
        }),
      );
      emitting = false;
      await chaos;
      for (const r of results.flat()) expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
      // the outage really happened while they ran
      expect(readFileSync(join(home, "logs", "hook.log"), "utf8")).toMatch(outageLogged);

      let flushed = false;
      for (let attempt = 0; attempt < 5 && !flushed; attempt++) {
        flushed = (await runBinary(["flush"], { env: emitterEnv(home) })).code === 0;
        if (!flushed) await sleep(1_000);
      }
      expect(flushed).toBe(true);
      expect(spoolFiles(home)).toEqual([]);
      expect(rejectedFiles(home)).toEqual([]);

      const markers = await rowsOf<{ marker: string }>(
        "SELECT payload->>'marker' AS marker FROM events WHERE payload->>'session_id' LIKE ?",
        [`e2e-chaos-${run}-%`],
      );
      const want = Array.from(
        { length: emitters * perEmitter },
        (_, i) => `${Math.floor(i / perEmitter)}-${i % perEmitter}`,
      ).sort();
      expect(markers.map((m) => m.marker).sort()).toEqual(want);
    },
    600_000,
  );
});

describe("transcript import against the real server", () => {
  it("every fixture transcript imported twice: counts equal the independent count, the second run all duplicates", async () => {
    await checkTranscriptImport(transcriptFixtures());
  }, 600_000);

  it("a line with a number JavaScript cannot hold is sent as written and refused naming it, never stored as null", async () => {
    const folder = tempDir("e2e-inexact-import");
    const sessionId = `e2e-inexact-${randomBytes(4).toString("hex")}`;
    const file = join(folder, `${sessionId}.jsonl`);
    const line = (n: number, extra: string) =>
      `{"type":"user","uuid":"bbbbbbbb-0000-4000-8000-00000000000${n}","sessionId":"${sessionId}",` +
      `"timestamp":"2026-01-01T00:00:0${n}Z"${extra}}`;
    writeFileSync(file, [line(1, ""), line(2, ',"n":1e400'), line(3, ',"m":12345678901234567890')].join("\n"));
    const r = await runBinary(["import", file, "--json"], { env: emitterEnv(tempDir("e2e-inexact-home")) });
    expect(r.stderr).toContain(`${file}:2: refused by the server (HTTP 400): events[0].payload.n: the number 1e400`);
    expect(r.stderr).toContain(
      `${file}:3: refused by the server (HTTP 400): events[0].payload.m: the number 12345678901234567890`,
    );
    expect(JSON.parse(r.stdout)).toMatchObject({ events: 3, accepted: 1, errors: 2, replacedCharacters: 0 });
    expect(
      await countOf("SELECT 1 FROM events e JOIN sessions s ON s.id = e.session_id WHERE s.external_id = ?", [
        sessionId,
      ]),
    ).toBe(1);
  });

  it("says how many characters PostgreSQL cannot hold were stored as U+FFFD; a second run, all duplicates, none", async () => {
    const folder = tempDir("e2e-nul-import");
    const sessionId = `e2e-nul-import-${randomBytes(4).toString("hex")}`;
    const file = join(folder, `${sessionId}.jsonl`);
    const line = (n: number, extra: string) =>
      `{"type":"user","uuid":"cccccccc-0000-4000-8000-00000000000${n}","sessionId":"${sessionId}",` +
      `"timestamp":"2026-01-01T00:00:0${n}Z"${extra}}`;
    // Escapes as JSON writes them: a NUL and a lone surrogate in one line, none in the other.
    writeFileSync(file, [line(1, ',"toolUseResult":{"stdout":"a\\u0000b\\udc00"}'), line(2, "")].join("\n"));
    const env = emitterEnv(tempDir("e2e-nul-import-home"));
    const first = await runBinary(["import", file], { env });
    expect(first.stdout).toBe(
      "files 1, sessions 1, events 2: 2 accepted, 0 duplicates, 0 errors " +
        "(2 characters PostgreSQL cannot hold stored as U+FFFD)\n",
    );
    const again = await runBinary(["import", file, "--json"], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 0, duplicates: 2, replacedCharacters: 0 });
  });
});
