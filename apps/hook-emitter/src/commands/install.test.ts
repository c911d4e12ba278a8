import {
  accessSync,
  constants,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

import { otelFixture } from "@logbook/fixtures";
import { afterEach, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { BINARY, runProcess, tempDir } from "../../test/helpers.js";
import { useRealServer } from "../../test/real-server.js";
import { stopDeliverer } from "../deliver.js";
import { DEFAULT_HOOK_EVENTS } from "../settings.js";
import { stopFollower } from "../sync-state.js";
import { shellQuote } from "./install.js";

/**
 * What a person gets from `logbook-hook install`, tried as Claude Code would use it: the
 * settings file is read back, each hook is run exactly as written (a command through
 * `sh -c "<command>"` with the payload on stdin; an http hook as a POST of the payload with
 * the headers, `$VARS` filled from the environment as `allowedEnvVars` allows) against the
 * real, built server on a real PostgreSQL, and the event must be stored. `logbook-hook` is
 * on no PATH here: the hooks must work without it.
 */

const real = useRealServer();

const homes: string[] = [];
afterEach(() => {
  // A deliverer a hook started, and the sync follower it started, must not outlive the test.
  for (const home of homes.splice(0)) {
    stopDeliverer(join(home, ".logbook", "spool"));
    stopFollower(join(home, ".logbook", "sync"));
  }
});

/** A PATH with `node` (as a person's shell has) and the system tools, and no `logbook-hook`. */
const PATH = [dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":");

function onThisPath(name: string): boolean {
  return PATH.split(":").some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A fresh HOME, with nothing of Logbook's in the environment but what the test passes. */
function freshHome(prefix: string): { home: string; env: Record<string, string> } {
  const home = tempDir(prefix);
  homes.push(home);
  return { home, env: { HOME: home, PATH } };
}

interface Handler {
  type: string;
  command?: string;
  url?: string;
  headers?: Record<string, string>;
  allowedEnvVars?: string[];
  timeout?: number;
}
type Settings = { hooks: Record<string, Array<{ matcher?: string; hooks: Handler[] }>> } & Record<string, unknown>;

const readSettings = (home: string) =>
  JSON.parse(readFileSync(join(home, ".claude", "settings.json"), "utf8")) as Settings;

const handlerOf = (settings: Settings, event: string): Handler => {
  const handlers = (settings.hooks[event] ?? []).flatMap((group) => group.hooks);
  const ours = handlers.filter((h) => h.command?.includes("logbook-hook") === true || h.url?.endsWith("/claude-code"));
  expect(ours).toHaveLength(1);
  return expectDefined(ours[0]);
};

/** Runs a command hook the way Claude Code does: `sh -c "<command>"`, the payload on stdin. */
const runCommandHook = (handler: Handler, payload: object, env: Record<string, string>) =>
  runProcess("/bin/sh", ["-c", expectDefined(handler.command)], { env, stdin: JSON.stringify(payload) });

/** Sends an http hook the way Claude Code does: POST of the payload, `$VAR`s from `allowedEnvVars` filled in. */
async function sendHttpHook(handler: Handler, payload: object, env: Record<string, string>): Promise<number> {
  const allowed = new Set(handler.allowedEnvVars ?? []);
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  for (const [name, value] of Object.entries(handler.headers ?? {}))
    headers[name] = value.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, v: string) =>
      allowed.has(v) ? (env[v] ?? "") : "",
    );
  const response = await fetch(expectDefined(handler.url), { method: "POST", headers, body: JSON.stringify(payload) });
  await response.arrayBuffer();
  return response.status;
}

async function storedCount(sessionId: string): Promise<number> {
  const result = await real.db.knex.raw<{ rows: Array<{ n: string }> }>(
    "SELECT count(*) AS n FROM events WHERE source = 'hook' AND payload->>'session_id' = ?",
    [sessionId],
  );
  return Number(expectDefined(result.rows[0]).n);
}

/** Waits (up to a deadline, not a timed assertion) until `count` events of the session are stored. */
async function expectStored(sessionId: string, count: number): Promise<void> {
  await waitFor(`${count} stored events of ${sessionId}`, () => storedCount(sessionId), {
    deadlineMs: 30_000,
    everyMs: 100,
    accept: (n) => n >= count,
  });
  expect(await storedCount(sessionId)).toBe(count);
}

/** A copy of the built binary (its three files) in `dir`, as someone who moved or unpacked it has. */
function copyBinary(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dirname(BINARY)).filter((n) => n.endsWith(".cjs")))
    copyFileSync(join(dirname(BINARY), name), join(dir, name));
  return join(dir, "logbook-hook.cjs");
}

describe("logbook-hook install, then the hooks as Claude Code runs them", () => {
  it("not on PATH: writes `node /abs/…/logbook-hook.cjs`, quoted for sh, says so; the command stores the event", async () => {
    expect(onThisPath("logbook-hook")).toBe(false);
    const { home, env } = freshHome("install-abs");
    // A folder with a space and a quote in its name: the command must survive `sh -c`.
    const binary = copyBinary(join(home, "tools", "it's logbook", "dist"));
    const installed = await runProcess(
      process.execPath,
      [binary, "install", "--user", "--url", real.server.url, "--api-key", real.server.apiKey],
      { env, cwd: home },
    );
    expect(installed).toMatchObject({ code: 0, stderr: "" });
    const expected = `node ${shellQuote(binary)}`;
    expect(expected).toContain("'\\''");
    expect(installed.stdout).toContain("logbook-hook is not on PATH");
    expect(installed.stdout).toContain(expected);

    const settings = readSettings(home);
    const session = `install-abs-${Date.now()}`;
    for (const event of ["SessionStart", "UserPromptSubmit", "PreToolUse"]) {
      const handler = handlerOf(settings, event);
      expect(handler).toMatchObject({ type: "command", command: expected });
      const hook = await runCommandHook(handler, { session_id: session, hook_event_name: event }, env);
      expect(hook).toEqual({ code: 0, stdout: "", stderr: "" });
    }
    await expectStored(session, 3);
  });

  it("creates what it creates private, even under umask 022: ~/.claude and $LOGBOOK_HOME 0700, settings and credentials 0600", async () => {
    const { home, env } = freshHome("install-modes");
    const installed = await runProcess(
      "/bin/sh",
      ["-c", 'umask 022; exec "$0" "$1" install --api-key lbk_x --url http://127.0.0.1:9', process.execPath, BINARY],
      { env },
    );
    expect(installed.code).toBe(0);
    const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
    expect(mode(join(home, ".claude"))).toBe("700");
    expect(mode(join(home, ".claude", "settings.json"))).toBe("600");
    expect(mode(join(home, ".logbook"))).toBe("700");
    expect(mode(join(home, ".logbook", "credentials"))).toBe("600");
  });

  it("a second install with another --command replaces our entries, never the person's own", async () => {
    const { home, env } = freshHome("install-again");
    mkdirSync(join(home, ".claude"));
    const mine = { type: "command", command: "echo mine", timeout: 9 };
    writeFileSync(
      join(home, ".claude", "settings.json"),
      `${JSON.stringify({ hooks: { PreToolUse: [{ matcher: "Bash", hooks: [mine] }] } }, null, 2)}\n`,
    );
    const original = readFileSync(join(home, ".claude", "settings.json"), "utf8");
    const first = await runProcess(process.execPath, [BINARY, "install", "--command", "logbook-hook"], { env });
    expect(first.code).toBe(0);
    const second = await runProcess(process.execPath, [BINARY, "install", "--command", `node ${shellQuote(BINARY)}`], {
      env,
    });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`replaced Logbook's earlier hook in ${DEFAULT_HOOK_EVENTS.length} event(s)`);
    const settings = readSettings(home);
    expect(expectDefined(settings.hooks.PreToolUse)[0]).toEqual({ matcher: "Bash", hooks: [mine] });
    for (const event of Object.keys(settings.hooks))
      expect(handlerOf(settings, event).command).toBe(`node ${shellQuote(BINARY)}`);
    // the same again: nothing to change
    const third = await runProcess(process.execPath, [BINARY, "install", "--command", `node ${shellQuote(BINARY)}`], {
      env,
    });
    expect(third.stdout).toContain("already installed, nothing to change");
    const removed = await runProcess(process.execPath, [BINARY, "uninstall"], { env });
    expect(removed.code).toBe(0);
    expect(readFileSync(join(home, ".claude", "settings.json"), "utf8")).toBe(original);
  });

  it("--http: http hooks (short timeout, key only by name) for every event that takes them, command hooks for SessionStart; both store events", async () => {
    const { home, env } = freshHome("install-http");
    const installed = await runProcess(
      process.execPath,
      [BINARY, "install", "--http", "--events", "SessionStart,Setup,PreToolUse,Stop", "--url", real.server.url],
      { env: { ...env, LOGBOOK_API_KEY: real.server.apiKey } },
    );
    expect(installed).toMatchObject({ code: 0, stderr: "" });
    expect(installed.stdout).toContain("LOGBOOK_API_KEY");
    const text = readFileSync(join(home, ".claude", "settings.json"), "utf8");
    expect(text).not.toContain(real.server.apiKey);
    const settings = readSettings(home);
    for (const event of ["PreToolUse", "Stop"])
      expect(handlerOf(settings, event)).toEqual({
        type: "http",
        url: `${real.server.url}/hooks/claude-code`,
        headers: { Authorization: "Bearer $LOGBOOK_API_KEY" },
        allowedEnvVars: ["LOGBOOK_API_KEY"],
        timeout: 3,
      });
    for (const event of ["SessionStart", "Setup"])
      expect(handlerOf(settings, event)).toMatchObject({ type: "command", command: `node ${shellQuote(BINARY)}` });

    // Claude Code's environment: the key exported, as the install note says.
    const claudeEnv = { ...env, LOGBOOK_API_KEY: real.server.apiKey, LOGBOOK_URL: real.server.url };
    const session = `install-http-${Date.now()}`;
    const start = await runCommandHook(
      handlerOf(settings, "SessionStart"),
      { session_id: session, hook_event_name: "SessionStart", source: "startup" },
      claudeEnv,
    );
    expect(start).toEqual({ code: 0, stdout: "", stderr: "" });
    for (const event of ["PreToolUse", "Stop"])
      expect(
        await sendHttpHook(handlerOf(settings, event), { session_id: session, hook_event_name: event }, claudeEnv),
      ).toBe(200);
    await expectStored(session, 3);

    // Switching back to command hooks replaces the http ones.
    const back = await runProcess(
      process.execPath,
      [BINARY, "install", "--events", "SessionStart,Setup,PreToolUse,Stop"],
      {
        env,
      },
    );
    expect(back.code).toBe(0);
    expect(handlerOf(readSettings(home), "PreToolUse")).toMatchObject({ type: "command" });
  });
});

describe("install --otel", () => {
  it("writes Claude Code's OpenTelemetry settings into an owner-only settings file, and they reach Logbook", async () => {
    const { home, env } = freshHome("logbook-otel-");
    const settingsFile = join(home, ".claude", "settings.json");
    mkdirSync(dirname(settingsFile), { recursive: true });
    writeFileSync(settingsFile, `${JSON.stringify({ env: { KEEP: "me" }, model: "opus" }, null, 2)}\n`, {
      mode: 0o644,
    });
    const args = [BINARY, "install", "--otel", "--url", real.server.url, "--api-key", real.server.apiKey];

    const dry = await runProcess(process.execPath, [...args, "--dry-run"], { env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer <api key>"');
    expect(dry.stdout).not.toContain(real.server.apiKey);

    const done = await runProcess(process.execPath, args, { env });
    expect(done.code).toBe(0);
    expect(done.stdout + done.stderr).not.toContain(real.server.apiKey);
    expect(statSync(settingsFile).mode & 0o777).toBe(0o600);
    const settings = JSON.parse(readFileSync(settingsFile, "utf8")) as { env: Record<string, string>; model: string };
    expect(settings.model).toBe("opus");
    expect(settings.env).toEqual({
      KEEP: "me",
      CLAUDE_CODE_ENABLE_TELEMETRY: "1",
      OTEL_LOGS_EXPORTER: "otlp",
      OTEL_METRICS_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_ENDPOINT: real.server.url,
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${real.server.apiKey}`,
    });
    expect((await runProcess(process.execPath, args, { env })).stdout).toContain("already set, nothing to change");

    // What Claude Code's exporter does with them: POST <endpoint>/v1/logs with the header.
    const [name, value] = expectDefined(settings.env.OTEL_EXPORTER_OTLP_HEADERS).split("=", 2) as [string, string];
    const response = await fetch(`${settings.env.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/logs`, {
      method: "POST",
      headers: { [name]: value, "content-type": "application/x-protobuf" },
      body: otelFixture("logs").protobuf,
    });
    expect(response.status).toBe(200);

    // And out again: the six variables and the key leave, the person's own stay.
    const undo = await runProcess(process.execPath, [BINARY, "uninstall", "--otel"], { env });
    expect(undo.code, undo.stderr).toBe(0);
    expect(undo.stdout).toContain("no longer sends its OpenTelemetry to Logbook");
    const after = readFileSync(settingsFile, "utf8");
    expect(JSON.parse(after)).toEqual({ env: { KEEP: "me" }, model: "opus" });
    expect(after).not.toContain(real.server.apiKey);
    expect((await runProcess(process.execPath, [BINARY, "uninstall", "--otel"], { env })).stdout).toContain(
      "nothing to change",
    );
  });

  it("prints the settings, key included, only when asked with --print; never into project settings", async () => {
    const { env } = freshHome("logbook-otel-print-");
    const printed = await runProcess(
      process.execPath,
      [BINARY, "install", "--otel", "--print", "--url", "http://127.0.0.1:4680", "--api-key", "lbk_secret_1"],
      { env },
    );
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain("export CLAUDE_CODE_ENABLE_TELEMETRY=1\n");
    expect(printed.stdout).toContain("export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4680\n");
    expect(printed.stdout).toContain("export OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer lbk_secret_1'\n");

    const project = await runProcess(
      process.execPath,
      [BINARY, "install", "--otel", "--project", "--url", "http://127.0.0.1:4680", "--api-key", "lbk_secret_1"],
      { env },
    );
    expect(project.code).not.toBe(0);
    expect(project.stderr).toContain("--otel writes your user settings");
  });
});
