import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import { readJsonl, type TranscriptSet } from "@logbook/fixtures";
import { expect } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";

import {
  canonical,
  countOf,
  emitterEnv,
  mapLimit,
  rejectedFiles,
  replacedLines,
  rowsOf,
  spoolFiles,
  unstorableCount,
} from "./e2e-harness.js";
import { runBinary, tempDir } from "./helpers.js";
import { expectedAgentTypes, expectedChildren, independentCount } from "./transcript-expectations.js";

/**
 * End-to-end checks over a whole set of hook payloads or transcripts, run on our fixtures
 * (e2e.test.ts) and on the external real corpus (e2e.corpus.test.ts). Each marks its rows
 * with its own session ids, so several can run against one database.
 */

type Payload = Record<string, unknown>;

const expectedSession = (p: Payload) =>
  typeof p.agent_id === "string" && p.agent_id !== ""
    ? `${String(p.session_id)}:agent:${p.agent_id}`
    : String(p.session_id);

/** Direct delivery: every payload stored whole, in the right session; subagent events in child sessions. */
export async function checkHooksDirect(payloads: Payload[]): Promise<void> {
  const run = randomBytes(4).toString("hex");
  const samples = payloads.map((p) => ({ ...p, session_id: `${String(p.session_id)}-direct-${run}` }));
  const home = tempDir("e2e-direct");
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
  // And each payload with characters PostgreSQL cannot hold is logged as stored with U+FFFD:
  // all of them, unless an answer was lost to the hook's time budget (the server stored the
  // event, said so to no one, and the flush's resend was a duplicate, which replaces nothing).
  const { rest, replaced } = replacedLines(log.split("\n").filter((line) => line !== ""));
  expect(rest.filter((line) => !expected.test(line))).toEqual([]);
  const unstorable = samples.reduce((sum, p) => sum + unstorableCount(p), 0);
  if (rest.some((line) => line.endsWith(": spooled"))) expect(replaced).toBeLessThanOrEqual(unstorable);
  else expect(replaced).toBe(unstorable);

  const externalIds = new Set<string>();
  for (const p of samples) {
    externalIds.add(String(p.session_id));
    externalIds.add(expectedSession(p));
  }
  const rows = await rowsOf<{
    payload: Payload;
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
    expect(child.parent_session_id).toBe(
      expectDefined(byExternal.get(expectDefined(child.external_id.split(":agent:")[0]))).id,
    );
  }
  for (const s of sessions.filter((s) => !s.external_id.includes(":agent:"))) expect(s.parent_session_id).toBeNull();
}

/** Background delivery (the default): every payload stored once and whole, in capture order; the deliverer then exits. */
export async function checkHooksBackground(payloads: Payload[]): Promise<void> {
  const home = tempDir("e2e-background");
  const run = randomBytes(4).toString("hex");
  // Own session ids, so this check's rows are told apart from others'; six lanes of hooks,
  // each lane one hook after another.
  const lanes = 6;
  const samples = payloads.map((p, n) => ({
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
  await waitFor(`the ${samples.length} hook events stored`, stored, {
    deadlineMs: 60_000,
    everyMs: 100,
    accept: (n) => n >= samples.length,
  });
  expect(await stored()).toBe(samples.length);
  await waitFor("the deliverer gone (its lock file removed)", () => existsSync(join(home, "spool", ".deliver.lock")), {
    deadlineMs: 30_000,
    everyMs: 100,
    accept: (held) => !held,
  });
  expect(spoolFiles(home)).toEqual([]);
  expect(rejectedFiles(home)).toEqual([]);
  // Nothing logged, but what the server stored as U+FFFD (said per batch, so added up here).
  const unstorable = samples.reduce((sum, p) => sum + unstorableCount(p), 0);
  const logFile = join(home, "logs", "hook.log");
  expect(existsSync(logFile)).toBe(unstorable > 0);
  if (unstorable > 0) {
    const { rest, replaced } = replacedLines(
      readFileSync(logFile, "utf8")
        .split("\n")
        .filter((l) => l !== ""),
    );
    expect({ rest, replaced }).toEqual({ rest: [], replaced: unstorable });
  }

  const rows = await rowsOf<{
    payload: Payload & { e2e_lane: number; e2e_n: number };
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
}

/**
 * `logbook-hook import` of a whole set, twice: counts equal the independent count, the second
 * run is all duplicates and changes no total; subagent files and inline sidechains become
 * child sessions of their session. Expects a database with no other transcript events.
 */
export async function checkTranscriptImport(set: TranscriptSet): Promise<void> {
  const want = independentCount(set);
  const env = emitterEnv(tempDir("e2e-import-home"));
  const first = await runBinary(["import", set.root, "--json"], { env });
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  const { replacedCharacters, ...summary } = JSON.parse(first.stdout) as { replacedCharacters: number };
  expect(summary).toEqual({
    files: set.files.length,
    sessions: want.sessions,
    events: want.lines,
    accepted: want.lines,
    duplicates: 0,
    errors: 0,
  });
  // Characters PostgreSQL cannot hold: at least those of the lines, and more only where the
  // importer copied such a value into an event field as well (each stored place counts).
  const unstorable = set.files.reduce(
    (sum, file) => sum + readJsonl(join(set.root, file)).reduce((n: number, line) => n + unstorableCount(line), 0),
    0,
  );
  expect(replacedCharacters).toBeGreaterThanOrEqual(unstorable);
  expect(replacedCharacters > 0).toBe(unstorable > 0);
  const count = () => countOf("SELECT 1 FROM events WHERE source = 'transcript'");
  expect(await count()).toBe(want.lines);
  // Every line's uuid is its event's id, and every parentUuid that names a line of the set
  // finds that line's event (issue 18: foreign uuids were replaced by derived ids).
  expect(await countOf("SELECT 1 FROM events WHERE source = 'transcript' AND id::text = lower(payload->>'uuid')")).toBe(
    want.uuids,
  );
  expect(
    await countOf(
      `SELECT 1 FROM events c WHERE c.source = 'transcript' AND c.parent_uuid IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM events p WHERE p.id::text = lower(c.parent_uuid))`,
    ),
  ).toBe(want.danglingParents);
  // No phantom sessions: the main sessions are exactly those the lines name (issue 18).
  const mains = await rowsOf<{ external_id: string }>(
    `SELECT DISTINCT s.external_id FROM events e JOIN sessions s ON s.id = e.session_id
      WHERE e.source = 'transcript' AND s.parent_session_id IS NULL ORDER BY s.external_id`,
  );
  expect(mains.map((m) => m.external_id).sort()).toEqual(want.mainSessions);
  const tokens = () =>
    rowsOf("SELECT external_id, input_tokens, output_tokens, parent_session_id FROM sessions ORDER BY external_id");
  const tokensAfterFirst = await tokens();

  const second = await runBinary(["import", set.root, "--json"], { env });
  expect(second.code).toBe(0);
  expect(JSON.parse(second.stdout)).toEqual({
    files: set.files.length,
    sessions: want.sessions,
    events: want.lines,
    accepted: 0,
    duplicates: want.lines,
    errors: 0,
    replacedCharacters: 0,
  });
  expect(await count()).toBe(want.lines);
  expect(await tokens()).toEqual(tokensAfterFirst);

  const children = await rowsOf<{ parent: string; child: string }>(
    `SELECT p.external_id AS parent, c.external_id AS child
       FROM sessions c JOIN sessions p ON p.id = c.parent_session_id
      WHERE c.external_id LIKE '%:agent:%'`,
  );
  const wantChildren = expectedChildren(set);
  expect(wantChildren.size).toBeGreaterThan(0);
  for (const [parent, { agents, inline }] of wantChildren) {
    const of = children.filter((c) => c.parent === parent).map((c) => c.child);
    expect(of.filter((c) => !c.startsWith(`${parent}:agent:sidechain-`)).sort()).toEqual(agents);
    expect(of.filter((c) => c.startsWith(`${parent}:agent:sidechain-`))).toHaveLength(inline);
  }
  // Each subagent's type, from the Task call that started it.
  const wantTypes = expectedAgentTypes(set);
  expect([...wantTypes.values()].filter((type) => type !== null).length).toBeGreaterThan(0);
  const types = await rowsOf<{ external_id: string; agent_type: string | null }>(
    "SELECT external_id, agent_type FROM sessions WHERE external_id = ANY(?)",
    [[...wantTypes.keys()]],
  );
  expect(Object.fromEntries(types.map((t) => [t.external_id, t.agent_type]))).toEqual(Object.fromEntries(wantTypes));
}
