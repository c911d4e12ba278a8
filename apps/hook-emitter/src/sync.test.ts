import { type ChildProcess, spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { e2e, emitterEnv, rowsOf, startE2E } from "../test/e2e-harness.js";
import { BINARY, runBinary, tempDir } from "../test/helpers.js";
import { stopDeliverer } from "./deliver.js";
import { FOLLOW_LOCK_FILE, stopFollower } from "./sync-state.js";
import { planImport } from "./transcript.js";

/**
 * `logbook-hook sync` against the real, built server on real PostgreSQL: a follower sends
 * lines as they are appended while files are truncated, rewritten and rotated and the server
 * restarts, and in the end every line is stored once, under the id `import` gives it.
 */
startE2E();

let serial = 0;
/** A transcript line as Claude Code writes it (own uuid, session, time), `n` making it unique. */
function line(sessionId: string, n: number, extra: Record<string, unknown> = {}): string {
  serial++;
  const uuid = `00000000-0000-4000-8000-${String(serial).padStart(12, "0")}`;
  return `${JSON.stringify({
    type: n % 2 === 0 ? "user" : "assistant",
    uuid,
    parentUuid: null,
    sessionId,
    timestamp: new Date(Date.UTC(2026, 10, 30, 10, 0, serial)).toISOString(),
    message: { role: n % 2 === 0 ? "user" : "assistant", content: `line ${n} of ${sessionId}` },
    ...extra,
  })}\n`;
}
/** A line without uuid or session (Claude Code's `summary`): it waits for the file's session. */
const summary = (text: string) => `${JSON.stringify({ type: "summary", summary: text, leafUuid: "x" })}\n`;

/** Every id `import` would give the lines of these file contents (each content as a file of its own). */
async function idsOf(files: Array<{ name: string; text: string }>): Promise<Set<string>> {
  const dir = tempDir("sync-expect");
  const ids = new Set<string>();
  for (const [index, file] of files.entries()) {
    const folder = join(dir, String(index));
    mkdirSync(folder);
    const path = join(folder, file.name);
    writeFileSync(path, file.text);
    for await (const item of planImport(path)) if (item.kind === "event" && item.event.id) ids.add(item.event.id);
  }
  return ids;
}

async function storedIds(sessions: string[]): Promise<string[]> {
  const rows = await rowsOf<{ id: string }>(
    `SELECT e.id::text AS id FROM events e JOIN sessions s ON s.id = e.session_id
     WHERE e.source = 'transcript' AND s.external_id = ANY(?)`,
    [sessions],
  );
  return rows.map((row) => row.id);
}

/** Waits (up to a deadline, not a timed assertion) until the stored ids include `expected`. */
async function waitForIds(sessions: string[], expected: Set<string>): Promise<string[]> {
  return waitFor(`the ids of ${expected.size} line(s) stored`, () => storedIds(sessions), {
    deadlineMs: 90_000,
    everyMs: 200,
    accept: (ids) => ids.length >= expected.size && [...expected].every((id) => ids.includes(id)),
  });
}

const followers: ChildProcess[] = [];
afterAll(() => {
  for (const child of followers) child.kill("SIGTERM");
});

describe("logbook-hook sync against the real server", () => {
  it("follows appends (a partial last line waits), truncation, rewrite and rotation through a server restart: every line once, import adds nothing", async () => {
    const home = tempDir("sync");
    const claude = join(home, ".claude");
    const project = join(claude, "projects", "-w-atlas");
    mkdirSync(project, { recursive: true });
    const env = emitterEnv(join(home, ".logbook"), { HOME: home, CLAUDE_CONFIG_DIR: claude });
    const [a, b, c, c2] = [
      "a1a1a1a1-0000-4000-8000-00000000000a",
      "b2b2b2b2-0000-4000-8000-00000000000b",
      "c3c3c3c3-0000-4000-8000-00000000000c",
      "d4d4d4d4-0000-4000-8000-00000000000d",
    ];
    const fileA = join(project, `${a}.jsonl`);
    const fileB = join(project, `${b}.jsonl`);
    const fileC = join(project, `${c}.jsonl`);
    const seenContents: Array<{ name: string; text: string }> = [];
    const contentOf = (path: string, name: string) => seenContents.push({ name, text: readFileSync(path, "utf8") });

    // Before any sync: a summary first (no session: it waits for the line that names one).
    writeFileSync(fileA, summary("Tile cache") + line(a, 0) + line(a, 1));
    writeFileSync(fileB, line(b, 0) + line(b, 1) + line(b, 2));
    writeFileSync(fileC, line(c, 0));

    const once = await runBinary(["sync", "--json"], { env });
    expect(once.stderr).toBe("");
    expect(once.code).toBe(0);
    expect(JSON.parse(once.stdout)).toMatchObject({ files: 3, changed: 3, events: 7, accepted: 7, errors: 0 });
    const again = await runBinary(["sync", "--json"], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ files: 3, changed: 0, events: 0 });

    const follower = spawn(process.execPath, [BINARY, "sync", "--follow"], {
      env: { ...process.env, ...env, NODE_EXTRA_CA_CERTS: undefined },
      stdio: "ignore",
    });
    followers.push(follower);

    // Appends, the last one half written: its first half must not be sent alone.
    const half = line(a, 2);
    appendFileSync(fileA, line(a, 3) + half.slice(0, 40));
    // The follower has read the half line once the whole line before it is stored (one write).
    const whole = readFileSync(fileA, "utf8");
    await waitForIds([a], await idsOf([{ name: `${a}.jsonl`, text: whole.slice(0, whole.lastIndexOf("\n") + 1) }]));
    await e2e.server.restart();
    appendFileSync(fileA, half.slice(40) + line(a, 4));

    // B truncated and rewritten (a file saved over by a tool): read again from the start.
    contentOf(fileB, `${b}.jsonl`);
    truncateSync(fileB, 0);
    writeFileSync(fileB, line(b, 10) + line(b, 11));

    // C rotated: renamed (its remaining lines still sent), a new file in its place.
    appendFileSync(fileC, line(c, 1));
    contentOf(fileC, `${c}.jsonl`);
    renameSync(fileC, join(project, `${c}-rotated.jsonl`));
    appendFileSync(join(project, `${c}-rotated.jsonl`), line(c, 2));
    writeFileSync(fileC, line(c2, 0) + line(c2, 1));

    // The server goes away once more while lines keep coming.
    const stopped = e2e.server.restart();
    appendFileSync(fileA, line(a, 5));
    await stopped;
    appendFileSync(fileC, line(c2, 2));

    contentOf(fileA, `${a}.jsonl`);
    contentOf(fileB, `${b}.jsonl`);
    contentOf(join(project, `${c}-rotated.jsonl`), `${c}.jsonl`);
    contentOf(fileC, `${c}.jsonl`);
    const expected = await idsOf(seenContents);
    const sessions = [a, b, c, c2];
    const ids = await waitForIds(sessions, expected);
    expect(new Set(ids)).toEqual(expected);
    expect(ids).toHaveLength(expected.size);
    // The summary line went to A's session, under the id import gives it.
    const [summaryRow] = await rowsOf<{ external_id: string }>(
      `SELECT s.external_id FROM events e JOIN sessions s ON s.id = e.session_id WHERE e.payload->>'summary' = 'Tile cache'`,
    );
    expect(summaryRow?.external_id).toBe(a);

    // import of the same files afterwards: nothing new.
    const imported = await runBinary(["import", project, "--json"], { env });
    expect(JSON.parse(imported.stdout)).toMatchObject({ accepted: 0, errors: 0 });
    expect(await storedIds(sessions)).toHaveLength(expected.size);

    // Offsets are kept 0600 under sync/files, in a 0700 folder.
    const filesDir = join(home, ".logbook", "sync", "files");
    expect(statSync(filesDir).mode & 0o777).toBe(0o700);
    follower.kill("SIGTERM");
    await new Promise((done) => follower.once("exit", done));
  });

  it("a subagent file's session gets the type its parent's Task call asked for, read from the parent's file", async () => {
    const home = tempDir("sync-types");
    const claude = join(home, ".claude");
    const project = join(claude, "projects", "-w-types");
    const parent = "f6f6f6f6-0000-4000-8000-00000000000f";
    mkdirSync(join(project, parent, "subagents"), { recursive: true });
    const env = emitterEnv(join(home, ".logbook"), { HOME: home, CLAUDE_CONFIG_DIR: claude });
    const prompt = "Find where the tiles are cached";
    writeFileSync(
      join(project, `${parent}.jsonl`),
      line(parent, 1, {
        message: {
          role: "assistant",
          content: [{ type: "tool_use", id: "toolu_t1", name: "Task", input: { prompt, subagent_type: "Explore" } }],
        },
      }),
    );
    const child = join(project, parent, "subagents", "agent-a7f00d1.jsonl");
    const childLine = (n: number, content: string) =>
      line(parent, n, { isSidechain: true, agentId: "a7f00d1", message: { role: "user", content } });
    writeFileSync(child, childLine(0, prompt));
    const first = await runBinary(["sync", "--json"], { env });
    expect(JSON.parse(first.stdout)).toMatchObject({ files: 2, events: 2, accepted: 2, errors: 0 });
    appendFileSync(child, childLine(2, "and the eviction rule"));
    const second = await runBinary(["sync", "--json"], { env });
    expect(JSON.parse(second.stdout)).toMatchObject({ changed: 1, events: 1, accepted: 1, errors: 0 });
    const rows = await rowsOf<{ agent_type: string | null; events: number }>(
      `SELECT s.agent_type, (SELECT count(*)::int FROM events e WHERE e.session_id = s.id) AS events
         FROM sessions s WHERE s.external_id = ?`,
      [`${parent}:agent:a7f00d1`],
    );
    expect(rows).toEqual([{ agent_type: "Explore", events: 2 }]);

    // A follower (one process, many passes) reads the parent once for its first subagent file;
    // when the parent grows by a call for another subagent, it reads it again.
    const follower = spawn(process.execPath, [BINARY, "sync", "--follow"], {
      env: { ...process.env, ...env, NODE_EXTRA_CA_CERTS: undefined },
      stdio: "ignore",
    });
    followers.push(follower);
    const typeOf = async (agent: string) =>
      (
        await rowsOf<{ agent_type: string | null }>("SELECT agent_type FROM sessions WHERE external_id = ?", [
          `${parent}:agent:${agent}`,
        ])
      )[0]?.agent_type;
    const subagent = (agent: string, n: number, prompt: string) =>
      writeFileSync(
        join(project, parent, "subagents", `agent-${agent}.jsonl`),
        line(parent, n, { isSidechain: true, agentId: agent, message: { role: "user", content: prompt } }),
      );
    subagent("a7f00d2", 4, prompt);
    await waitFor("the second Explore subagent stored", () => typeOf("a7f00d2"), {
      deadlineMs: 60_000,
      accept: (type) => type === "Explore",
    });
    appendFileSync(
      join(project, `${parent}.jsonl`),
      line(parent, 5, {
        message: {
          role: "assistant",
          content: [
            { type: "tool_use", id: "toolu_t2", name: "Task", input: { prompt: "Plan it", subagent_type: "Plan" } },
          ],
        },
      }),
    );
    subagent("a7f00d3", 6, "Plan it");
    await waitFor("the Plan subagent stored with its type", () => typeOf("a7f00d3"), {
      deadlineMs: 60_000,
      accept: (type) => type !== undefined,
    });
    expect(await typeOf("a7f00d3")).toBe("Plan");
    follower.kill("SIGTERM");
    await new Promise((done) => follower.once("exit", done));
  });

  it("on by default after install: the deliverer a hook starts also starts a follower, which sends the transcript", async () => {
    const home = tempDir("sync-default");
    const claude = join(home, ".claude");
    const project = join(claude, "projects", "-w-pager");
    mkdirSync(project, { recursive: true });
    const logbookHome = join(home, ".logbook");
    const env = emitterEnv(logbookHome, {
      HOME: home,
      CLAUDE_CONFIG_DIR: claude,
      LOGBOOK_DELIVER_IDLE_MS: "3000",
      LOGBOOK_SYNC_IDLE_MS: "3000",
    });
    const session = "e5e5e5e5-0000-4000-8000-00000000000e";
    const transcript = join(project, `${session}.jsonl`);
    writeFileSync(transcript, line(session, 0) + line(session, 1));
    const installed = await runBinary(["install", "--user"], { env });
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain("note: transcript sync on:");
    const hook = await runBinary([], {
      env: { ...env, LOGBOOK_NO_BACKGROUND_FLUSH: undefined },
      stdin: JSON.stringify({
        session_id: session,
        hook_event_name: "Stop",
        cwd: "/w/pager",
        transcript_path: transcript,
      }),
    });
    expect(hook.code).toBe(0);
    const expected = await idsOf([{ name: `${session}.jsonl`, text: readFileSync(transcript, "utf8") }]);
    const ids = await waitForIds([session], expected);
    expect(new Set(ids)).toEqual(expected);
    stopDeliverer(join(logbookHome, "spool"));
    expect(stopFollower(join(logbookHome, "sync"))).toBe(true);
  });

  it("install --no-sync records sync as off (the deliverer then starts no follower)", async () => {
    const home = tempDir("sync-off");
    const env = emitterEnv(join(home, ".logbook"), { HOME: home, CLAUDE_CONFIG_DIR: join(home, ".claude") });
    const installed = await runBinary(["install", "--user", "--no-sync"], { env });
    expect(installed.stdout).toContain("note: transcript sync off");
    expect(JSON.parse(readFileSync(join(home, ".logbook", "sync", "settings.json"), "utf8"))).toEqual({
      follow: false,
      paths: [],
      claudeConfigDirs: [],
    });
  });

  it("sync on and off per Claude Code configuration folder: uninstalling one keeps the other's transcripts synced", async () => {
    const home = tempDir("sync-two-configs");
    const [work, personal] = [join(home, ".claude-work"), join(home, ".claude-personal")];
    const envOf = (claude: string) =>
      emitterEnv(join(home, ".logbook"), { HOME: home, CLAUDE_CONFIG_DIR: claude, LOGBOOK_URL: "http://127.0.0.1:9" });
    const settingsFile = join(home, ".logbook", "sync", "settings.json");
    const settings = () => JSON.parse(readFileSync(settingsFile, "utf8")) as Record<string, unknown>;
    type Status = { sync: { enabled: boolean; roots: string[] } };
    const status = async (claude: string) =>
      JSON.parse((await runBinary(["status", "--json"], { env: envOf(claude) })).stdout) as Status;

    expect((await runBinary(["install", "--user"], { env: envOf(work) })).code).toBe(0);
    const second = await runBinary(["install", "--user"], { env: envOf(personal) });
    expect(second.stdout).toContain(`transcript sync on: ${join(personal, "projects")}, ${join(work, "projects")} `);
    expect(settings()).toMatchObject({ follow: true, claudeConfigDirs: [personal, work] });
    // A follower started from either folder's hooks follows both.
    expect((await status(work)).sync.roots).toEqual([join(personal, "projects"), join(work, "projects")]);

    const uninstalled = await runBinary(["uninstall", "--user"], { env: envOf(personal) });
    expect(uninstalled.stdout).toContain(
      `note: transcript sync off for ${join(personal, "projects")}; still on for ${join(work, "projects")}`,
    );
    expect(settings()).toMatchObject({ follow: true, claudeConfigDirs: [work] });
    expect((await status(work)).sync).toMatchObject({ enabled: true, roots: [join(work, "projects")] });

    expect((await runBinary(["uninstall", "--user"], { env: envOf(work) })).stdout).toContain(
      "note: transcript sync off (",
    );
    expect(settings()).toMatchObject({ follow: false, claudeConfigDirs: [] });

    // A folder installed with --no-sync is not read by the follower, even one started by its hooks.
    expect((await runBinary(["install", "--user"], { env: envOf(work) })).code).toBe(0);
    expect((await runBinary(["install", "--user", "--no-sync"], { env: envOf(personal) })).code).toBe(0);
    expect((await status(personal)).sync).toMatchObject({ enabled: true, roots: [join(work, "projects")] });
    // Its uninstall has no sync to turn off, and says nothing of it.
    const quiet = await runBinary(["uninstall", "--user"], { env: envOf(personal) });
    expect(quiet.stdout).not.toContain("transcript sync");
    expect(settings()).toMatchObject({ follow: true, claudeConfigDirs: [work] });
  });

  it("a sync settings file from an older install (no folders recorded): its folder is followed, and install says how to record it", async () => {
    const home = tempDir("sync-older-file");
    const claude = join(home, ".claude");
    const env = emitterEnv(join(home, ".logbook"), {
      HOME: home,
      CLAUDE_CONFIG_DIR: claude,
      LOGBOOK_URL: "http://127.0.0.1:9",
    });
    mkdirSync(join(home, ".logbook", "sync"), { recursive: true });
    writeFileSync(join(home, ".logbook", "sync", "settings.json"), JSON.stringify({ follow: true, paths: [] }));
    const status = JSON.parse((await runBinary(["status", "--json"], { env })).stdout) as {
      sync: { enabled: boolean; roots: string[] };
    };
    expect(status.sync).toEqual(expect.objectContaining({ enabled: true, roots: [join(claude, "projects")] }));
    const installed = await runBinary(["install", "--user", "--dry-run"], { env });
    expect(installed.stdout).toContain(
      "run logbook-hook install again in each folder whose transcripts should stay synced",
    );
  });

  it("status: which doors are open (hooks where, sync on and how far behind per file, OTel) and never a header's value", async () => {
    const home = tempDir("sync-status");
    const claude = join(home, ".claude");
    const project = join(claude, "projects", "-w-status");
    mkdirSync(project, { recursive: true });
    const env = emitterEnv(join(home, ".logbook"), { HOME: home, CLAUDE_CONFIG_DIR: claude });
    const session = "f6f6f6f6-0000-4000-8000-00000000000f";
    const transcript = join(project, `${session}.jsonl`);
    writeFileSync(transcript, line(session, 0) + line(session, 1));
    expect((await runBinary(["install", "--user"], { env })).code).toBe(0);

    type Status = {
      hooks: Array<{ scope: string; installed: boolean; events: number; kinds: string[]; missing: string[] }>;
      sync: {
        enabled: boolean;
        following: boolean;
        files: number;
        behindBytes: number;
        behind: Array<{ path: string; bytes: number }>;
      };
      otel: { enabled: boolean; source: string; pointsAtLogbook: boolean; headers: boolean };
    };
    const status = async (extra: Record<string, string | undefined> = {}) => {
      const run = await runBinary(["status", "--json"], { env: { ...env, ...extra } });
      expect(run.code).toBe(0);
      return { run, report: JSON.parse(run.stdout) as Status };
    };
    const before = (await status()).report;
    expect(before.hooks).toEqual([
      expect.objectContaining({ scope: "user", installed: true, events: 30, kinds: ["command"], missing: [] }),
    ]);
    expect(before.sync).toMatchObject({
      enabled: true,
      following: false,
      files: 1,
      behindBytes: statSync(transcript).size,
    });
    expect(before.otel).toMatchObject({ enabled: false, source: "none" });

    expect((await runBinary(["sync"], { env })).code).toBe(0);
    appendFileSync(transcript, '{"type":"user","half');
    const after = (await status()).report;
    expect(after.sync.behind).toEqual([{ path: transcript, bytes: '{"type":"user","half'.length }]);

    const secret = "Authorization=Bearer lbk_do_not_print_me";
    const otel = await status({
      CLAUDE_CODE_ENABLE_TELEMETRY: "1",
      OTEL_EXPORTER_OTLP_ENDPOINT: e2e.server.url,
      OTEL_EXPORTER_OTLP_HEADERS: secret,
      OTEL_LOGS_EXPORTER: "otlp",
    });
    expect(otel.report.otel).toMatchObject({
      enabled: true,
      source: "environment",
      pointsAtLogbook: true,
      headers: true,
    });
    expect(otel.run.stdout).not.toContain("lbk_do_not_print_me");

    // The same settings in the user settings' env block (how Claude Code applies them to itself).
    const settingsFile = join(claude, "settings.json");
    const settings = JSON.parse(readFileSync(settingsFile, "utf8")) as Record<string, unknown>;
    writeFileSync(
      settingsFile,
      JSON.stringify({
        ...settings,
        env: { CLAUDE_CODE_ENABLE_TELEMETRY: "1", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" },
      }),
    );
    const text = await runBinary(["status"], { env });
    expect(text.stdout).toMatch(/^hooks {4}user .*: 30 event\(s\), command$/m);
    expect(text.stdout).toMatch(/^sync {5}on, no follower right now .*; 1 file\(s\), 1 behind by 20 bytes$/m);
    expect(text.stdout).toMatch(/^otel {5}on \(settings\): http:\/\/collector:4318 \(not this Logbook\)/m);
  });

  it("a follower started before Claude Code's projects folder exists follows it from when it appears, and nothing outside it", async () => {
    const home = tempDir("sync-late");
    const claude = join(home, ".claude");
    const env = emitterEnv(join(home, ".logbook"), { HOME: home, CLAUDE_CONFIG_DIR: claude });
    const follower = spawn(process.execPath, [BINARY, "sync", "--follow"], {
      env: { ...process.env, ...env, NODE_EXTRA_CA_CERTS: undefined },
      stdio: "ignore",
    });
    followers.push(follower);
    const [inside, outside] = ["a7a7a7a7-0000-4000-8000-00000000000a", "b8b8b8b8-0000-4000-8000-00000000000b"];
    // Beside the missing root: what a watcher of the nearest existing folder would report.
    const stray = join(home, "elsewhere");
    mkdirSync(stray);
    // Started: it takes its lock first, then watches the roots that exist (none yet).
    await waitFor("the follower's lock", () => existsSync(join(home, ".logbook", "sync", FOLLOW_LOCK_FILE)), {
      deadlineMs: 30_000,
    });
    writeFileSync(join(stray, `${outside}.jsonl`), line(outside, 0));
    const project = join(claude, "projects", "-w-late");
    mkdirSync(project, { recursive: true });
    const transcript = join(project, `${inside}.jsonl`);
    writeFileSync(transcript, line(inside, 0));
    appendFileSync(join(stray, `${outside}.jsonl`), line(outside, 1));
    appendFileSync(transcript, line(inside, 1));
    const expected = await idsOf([{ name: `${inside}.jsonl`, text: readFileSync(transcript, "utf8") }]);
    expect(new Set(await waitForIds([inside], expected))).toEqual(expected);
    expect(await storedIds([outside])).toEqual([]);
    follower.kill("SIGTERM");
    await new Promise((done) => follower.once("exit", done));
  });
});
