import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, join } from "node:path";

import type { Knex } from "@logbook/db";
import { describe, expect, it } from "vitest";

import { hookSamples, materializeTranscripts, runBinary, SAMPLES, tempDir, transcriptSampleFiles } from "./helpers.js";
import { useRealServer } from "./real-server.js";

/**
 * End to end: the built `logbook-hook` binary against the real, built Logbook server
 * (`@logbook/server/testing` runs `apps/server/dist/main.js` as a child process) on a real
 * PostgreSQL database. What the server stored is read back from that database.
 */

const real = useRealServer();

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]!, index);
      }
    }),
  );
  return results;
}

/**
 * JSON with sorted keys, so a payload compares equal after a trip through jsonb. NUL and lone
 * UTF-16 surrogates (some samples have them) cannot be stored by PostgreSQL: the server
 * replaces them with U+FFFD, in values and keys, and so does this.
 */
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const clean = (text: string) => text.replace(UNSTORABLE, "\ufffd");
function canonical(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(clean(value));
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => [clean(k), v] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function spoolFiles(home: string): string[] {
  try {
    return readdirSync(join(home, "spool")).filter((name) => name.endsWith(".json"));
  } catch {
    return [];
  }
}

function rejectedFiles(home: string): string[] {
  try {
    return readdirSync(join(home, "spool", "rejected")).filter((name) => name !== "tmp");
  } catch {
    return [];
  }
}

/** Rows of a read-only SQL query on the test database (what the server stored). */
async function rowsOf<T>(sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<T[]> {
  const result = await real.db.knex.raw<{ rows: T[] }>(sql, bindings);
  return result.rows;
}

async function countOf(sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<number> {
  const [row] = await rowsOf<{ n: string | number }>(`SELECT count(*) AS n FROM (${sql}) AS q`, bindings);
  return Number(row!.n);
}

const emitterEnv = (home: string, extra: Record<string, string | undefined> = {}) => ({
  LOGBOOK_HOME: home,
  LOGBOOK_URL: real.server.url,
  LOGBOOK_API_KEY: real.server.apiKey,
  ...extra,
});

describe("hook events through the real binary into the real server", () => {
  it("every sample payload is stored whole, in the right session; subagent events in child sessions", async () => {
    const samples = hookSamples();
    const home = tempDir("e2e-samples");
    const started = Date.now();
    const results = await mapLimit(samples, 6, (payload) =>
      runBinary([], { stdin: JSON.stringify(payload), env: emitterEnv(home) }),
    );
    for (const r of results) expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    // anything a slow moment left spooled is sent now, as the next hook would
    expect((await runBinary(["flush"], { env: emitterEnv(home) })).code).toBe(0);
    expect(spoolFiles(home)).toEqual([]);
    expect(rejectedFiles(home)).toEqual([]);
    // On a loaded machine the odd request can outlast the hook's 400 ms budget: that event is
    // spooled (warn lines) and sent by a later hook or the flush above (info lines). Nothing
    // may have gone wrong otherwise.
    const log = existsSync(join(home, "logs", "hook.log")) ? readFileSync(join(home, "logs", "hook.log"), "utf8") : "";
    // Any event that ended up in the spool ("…: spooled", e.g. a timeout or the short offline
    // back-off after one) is fine: the flush above sent it. Errors and refusals are not.
    const expected = / warn (event .*: spooled$|spool not sent: no answer)| info flush: sent \d+ /;
    expect(log.split("\n").filter((line) => line !== "" && !expected.test(line))).toEqual([]);

    const expectedSession = (p: Record<string, unknown>) =>
      typeof p.agent_id === "string" && p.agent_id !== ""
        ? `${String(p.session_id)}:agent:${p.agent_id}`
        : String(p.session_id);
    const externalIds = new Set<string>();
    for (const p of samples) {
      externalIds.add(String(p.session_id));
      externalIds.add(expectedSession(p));
    }
    const rows = await rowsOf<{
      payload: Record<string, unknown>;
      event_type: string;
      machine_id: string;
      occurred_at: Date;
      external_id: string;
    }>(
      `SELECT e.payload, e.event_type, e.machine_id, e.occurred_at, s.external_id
         FROM events e JOIN sessions s ON s.id = e.session_id
        WHERE e.source = 'hook' AND s.external_id = ANY(?)`,
      [[...externalIds]],
    );
    expect(rows).toHaveLength(samples.length);
    expect(rows.map((row) => canonical(row.payload)).sort()).toEqual(samples.map(canonical).sort());
    for (const row of rows) {
      expect(row.external_id).toBe(expectedSession(row.payload));
      expect(row.event_type).toBe(row.payload.hook_event_name);
      expect(row.machine_id).toBe(hostname());
      expect(row.occurred_at.getTime()).toBeGreaterThanOrEqual(started - 1000);
    }

    const sessions = await rowsOf<{ id: string; external_id: string; parent_session_id: string | null }>(
      "SELECT id, external_id, parent_session_id FROM sessions WHERE external_id = ANY(?)",
      [[...externalIds]],
    );
    expect(sessions.map((s) => s.external_id).sort()).toEqual([...externalIds].sort());
    const byExternal = new Map(sessions.map((s) => [s.external_id, s]));
    const children = sessions.filter((s) => s.external_id.includes(":agent:"));
    expect(children.length).toBeGreaterThan(0);
    for (const child of children) {
      expect(child.parent_session_id).toBe(byExternal.get(child.external_id.split(":agent:")[0]!)!.id);
    }
    for (const s of sessions.filter((s) => !s.external_id.includes(":agent:"))) expect(s.parent_session_id).toBeNull();
  }, 900_000);

  it("background delivery (the default): every sample payload stored once and whole, in capture order; the deliverer then exits", async () => {
    const home = tempDir("e2e-background");
    const run = randomBytes(4).toString("hex");
    // Own session ids, so this test's rows are told apart from the test above; six lanes of
    // hooks, each lane one hook after another.
    const lanes = 6;
    const samples = hookSamples().map((p, n) => ({
      ...p,
      session_id: `${String(p.session_id)}-bg-${run}`,
      e2e_lane: n % lanes,
      e2e_n: n,
    }));
    const env = emitterEnv(home, { LOGBOOK_NO_BACKGROUND_FLUSH: undefined, LOGBOOK_DELIVER_IDLE_MS: "1500" });
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (const payload of samples.filter((p) => p.e2e_lane === lane)) {
          expect(await runBinary([], { stdin: JSON.stringify(payload), env })).toMatchObject({
            code: 0,
            stdout: "",
            stderr: "",
          });
        }
      }),
    );
    const stored = () =>
      countOf("SELECT 1 FROM events WHERE source = 'hook' AND payload->>'session_id' LIKE ?", [`%-bg-${run}`]);
    for (const until = Date.now() + 60_000; (await stored()) < samples.length && Date.now() < until;) await sleep(100);
    expect(await stored()).toBe(samples.length);
    for (const until = Date.now() + 30_000; existsSync(join(home, "spool", ".deliver.lock")) && Date.now() < until;)
      await sleep(100);
    expect(existsSync(join(home, "spool", ".deliver.lock"))).toBe(false);
    expect(spoolFiles(home)).toEqual([]);
    expect(rejectedFiles(home)).toEqual([]);
    expect(existsSync(join(home, "logs", "hook.log"))).toBe(false);

    const rows = await rowsOf<{
      payload: Record<string, unknown> & { e2e_lane: number; e2e_n: number };
      external_id: string;
    }>(
      `SELECT e.payload, s.external_id FROM events e JOIN sessions s ON s.id = e.session_id
        WHERE e.source = 'hook' AND e.payload->>'session_id' LIKE ? ORDER BY s.external_id, e.seq`,
      [`%-bg-${run}`],
    );
    expect(rows.map((row) => canonical(row.payload)).sort()).toEqual(samples.map(canonical).sort());
    // Hooks that ran one after another (a lane) are stored in the order they ran, in each session.
    const byLaneAndSession = new Map<string, number[]>();
    for (const row of rows) {
      const key = `${row.payload.e2e_lane} ${row.external_id}`;
      byLaneAndSession.set(key, [...(byLaneAndSession.get(key) ?? []), row.payload.e2e_n]);
    }
    for (const order of byLaneAndSession.values()) expect(order).toEqual([...order].sort((a, b) => a - b));
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
      key: { valid: false },
      spool: { events: 1 },
    });
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
    await real.server.kill();
    try {
      for (let n = 0; n < 25; n++) {
        const r = await runBinary([], {
          stdin: JSON.stringify({ session_id: session, hook_event_name: "PreToolUse", tool_name: "Bash", n }),
          env: emitterEnv(home),
        });
        expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
      }
    } finally {
      await real.server.restart();
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
          await real.server.kill();
          await sleep(1_500);
          await real.server.restart();
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
  /** Independent count from the raw sample files. */
  function independentCount() {
    let lines = 0;
    const sessions = new Set<string>();
    for (const name of transcriptSampleFiles()) {
      const parsed = readFileSync(join(SAMPLES, "transcripts", name), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map(
          (line) =>
            JSON.parse(line) as {
              uuid?: string;
              parentUuid?: string | null;
              sessionId?: string;
              isSidechain?: boolean;
            },
        );
      lines += parsed.length;
      const parts = name.split("__");
      const stem = basename(parts.at(-1)!, ".jsonl");
      if (parts.at(-2) === "subagents") {
        sessions.add(`${parts.at(-3)}:agent:${stem.slice("agent-".length)}`);
        continue;
      }
      const sidechain = new Set(parsed.filter((l) => l.isSidechain === true).map((l) => l.uuid));
      for (const line of parsed) {
        if (line.isSidechain !== true) sessions.add(line.sessionId ?? stem);
        else if (line.parentUuid == null || !sidechain.has(line.parentUuid)) sessions.add(`inline-root-${line.uuid}`);
      }
    }
    return { lines, sessions: sessions.size };
  }

  it("every sample transcript imported twice: counts equal the independent count, the second run all duplicates", async () => {
    const dir = tempDir("e2e-import");
    materializeTranscripts(dir);
    const want = independentCount();
    const env = emitterEnv(tempDir("e2e-import-home"));
    const first = await runBinary(["import", dir, "--json"], { env });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({
      files: transcriptSampleFiles().length,
      sessions: want.sessions,
      events: want.lines,
      accepted: want.lines,
      duplicates: 0,
      errors: 0,
    });
    const count = () => countOf("SELECT 1 FROM events WHERE source = 'transcript'");
    expect(await count()).toBe(want.lines);
    const tokens = () =>
      rowsOf("SELECT external_id, input_tokens, output_tokens, parent_session_id FROM sessions ORDER BY external_id");
    const tokensAfterFirst = await tokens();

    const second = await runBinary(["import", dir, "--json"], { env });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({
      files: transcriptSampleFiles().length,
      sessions: want.sessions,
      events: want.lines,
      accepted: 0,
      duplicates: want.lines,
      errors: 0,
    });
    expect(await count()).toBe(want.lines);
    expect(await tokens()).toEqual(tokensAfterFirst);

    // subagent files and inline sidechains became child sessions of their session
    const children = await rowsOf<{ parent: string; child: string }>(
      `SELECT p.external_id AS parent, c.external_id AS child
         FROM sessions c JOIN sessions p ON p.id = c.parent_session_id
        WHERE p.external_id IN ('258c7280-ae70-4798-800f-63464d01a85d', 'fe5e1c67-53e7-4862-81ae-d0e013e3270b')`,
    );
    expect(
      children
        .filter((c) => c.parent.startsWith("258c7280"))
        .map((c) => c.child)
        .sort(),
    ).toEqual([
      "258c7280-ae70-4798-800f-63464d01a85d:agent:a881341",
      "258c7280-ae70-4798-800f-63464d01a85d:agent:acompact-fffbd0",
    ]);
    expect(children.filter((c) => c.parent.startsWith("fe5e1c67"))).toHaveLength(5);
  }, 600_000);
});
