import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { KNOWN_EVENT_TYPES } from "@logbook/contracts";
import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { runBinary, tempDir } from "../test/helpers.js";
import {
  CLAUDE_CODE_HOOK_EVENTS,
  COMMAND_ONLY_EVENTS,
  commandHandler,
  CORE_HOOK_EVENTS,
  DEFAULT_HOOK_EVENTS,
  httpHandler,
  installHooks,
  isLogbookHandler,
  OLDER_CLAUDE_CODE_NOTE,
  otelEnvironment,
  SettingsError,
  uninstallHooks,
  uninstallOtelEnv,
} from "./settings.js";

/** A user's settings with hooks of their own, written the way Claude Code writes it (2-space JSON). */
const existing = {
  model: "opus",
  permissions: { allow: ["Bash(npm test:*)"], deny: [] },
  hooks: {
    PreToolUse: [
      { matcher: "Bash", hooks: [{ type: "command", command: "~/.claude/hooks/guard.sh", timeout: 10 }] },
      { matcher: "*", hooks: [{ type: "command", command: "echo pre >> /tmp/pre.log" }] },
    ],
    Stop: [{ hooks: [{ type: "command", command: "say done", async: true }] }],
    Notification: [{ matcher: "", hooks: [{ type: "http", url: "http://localhost:9000/notify", headers: {} }] }],
  },
  env: { FOO: "bar" },
  statusLine: { type: "command", command: "~/.claude/statusline.sh" },
};

const layouts: Array<[string, string]> = [
  ["2 spaces, final newline", `${JSON.stringify(existing, null, 2)}\n`],
  ["4 spaces, no final newline", JSON.stringify(existing, null, 4)],
  ["tabs", `${JSON.stringify(existing, null, "\t")}\n`],
  ["CRLF line ends", `${JSON.stringify(existing, null, 2).replace(/\n/g, "\r\n")}\r\n`],
  ["no hooks at all", `${JSON.stringify({ model: "sonnet", env: { A: "1" } }, null, 2)}\n`],
  ["empty object", "{}\n"],
];

/** A group where a person's own handler and ours sit together. */
const sharedGroup = (matcher: string) => ({
  matcher,
  hooks: [
    { type: "command", command: "mine.sh" },
    { type: "command", command: "logbook-hook", timeout: 5 },
  ],
});

describe("installHooks / uninstallHooks", () => {
  it("installs an event named like an Object.prototype member (was refused as 'not a list')", () => {
    const installed = installHooks("{}\n", { events: ["constructor", "toString"], handler: commandHandler() });
    expect(installed.events).toEqual(["constructor", "toString"]);
    const hooks = (JSON.parse(installed.text) as { hooks: Record<string, unknown> }).hooks;
    expect(Object.keys(hooks)).toEqual(["constructor", "toString"]);
    expect(uninstallHooks(installed.text).text).toBe("{}\n");
  });

  it.each(layouts)("install then uninstall gives back the file byte for byte (%s)", (_label, original) => {
    const installed = installHooks(original, { events: DEFAULT_HOOK_EVENTS, handler: commandHandler() });
    expect(installed.changed).toBe(true);
    expect(installed.events).toEqual([...DEFAULT_HOOK_EVENTS]);
    const removed = uninstallHooks(installed.text);
    expect(removed.changed).toBe(true);
    expect(removed.text).toBe(original);
  });

  it("keeps every existing hook and setting, adds ours as a group of its own under every event", () => {
    const original = `${JSON.stringify(existing, null, 2)}\n`;
    const installed = JSON.parse(
      installHooks(original, { events: DEFAULT_HOOK_EVENTS, handler: commandHandler() }).text,
    ) as Omit<typeof existing, "hooks"> & {
      hooks: Record<string, Array<{ matcher?: string; hooks: unknown[] }>>;
    };
    expect(installed.model).toBe("opus");
    expect(installed.env).toEqual(existing.env);
    expect(expectDefined(installed.hooks.PreToolUse).slice(0, 2)).toEqual(existing.hooks.PreToolUse);
    expect(expectDefined(installed.hooks.PreToolUse)[2]).toEqual({
      matcher: "*",
      hooks: [{ type: "command", command: "logbook-hook", timeout: 5 }],
    });
    expect(expectDefined(installed.hooks.Stop)[0]).toEqual(existing.hooks.Stop[0]);
    // events without matchers get none
    expect(expectDefined(installed.hooks.Stop)[1]).toEqual({
      hooks: [{ type: "command", command: "logbook-hook", timeout: 5 }],
    });
    expect(installed.hooks.UserPromptSubmit).toEqual([
      { hooks: [{ type: "command", command: "logbook-hook", timeout: 5 }] },
    ]);
    expect(Object.keys(installed.hooks).sort()).toEqual([...DEFAULT_HOOK_EVENTS].sort());
  });

  it("is idempotent: a second install changes nothing", () => {
    const once = installHooks(`${JSON.stringify(existing, null, 2)}\n`, {
      events: DEFAULT_HOOK_EVENTS,
      handler: commandHandler(),
    });
    const twice = installHooks(once.text, { events: DEFAULT_HOOK_EVENTS, handler: commandHandler() });
    expect(twice).toEqual({ text: once.text, changed: false, events: [], replaced: [] });
  });

  it("--events limits the events; a later install adds only the missing ones", () => {
    const first = installHooks(undefined, { events: ["PreToolUse", "Stop"], handler: commandHandler() });
    expect(Object.keys((JSON.parse(first.text) as { hooks: object }).hooks)).toEqual(["PreToolUse", "Stop"]);
    const second = installHooks(first.text, { events: ["Stop", "SessionEnd"], handler: commandHandler() });
    expect(second.events).toEqual(["SessionEnd"]);
  });

  it("--async marks the command hook async (the agent does not wait), still recognised as ours", () => {
    const edit = installHooks(undefined, {
      events: ["Stop"],
      handler: commandHandler("logbook-hook", { async: true }),
    });
    expect(JSON.parse(edit.text)).toEqual({
      hooks: { Stop: [{ hooks: [{ type: "command", command: "logbook-hook", timeout: 5, async: true }] }] },
    });
    expect(
      installHooks(edit.text, { events: ["Stop"], handler: commandHandler("logbook-hook", { async: true }) }).changed,
    ).toBe(false);
    // installing without --async replaces our async handler rather than adding a second one
    const plain = installHooks(edit.text, { events: ["Stop"], handler: commandHandler() });
    expect(plain.replaced).toEqual(["Stop"]);
    expect(JSON.parse(plain.text)).toEqual({
      hooks: { Stop: [{ hooks: [{ type: "command", command: "logbook-hook", timeout: 5 }] }] },
    });
    expect(uninstallHooks(edit.text).text).toBe("{}\n");
  });

  it("installs an http hook that passes the key from the environment", () => {
    const edit = installHooks(undefined, {
      events: ["PostToolUse"],
      handler: httpHandler("http://logbook.local:4680/"),
    });
    expect(JSON.parse(edit.text)).toEqual({
      hooks: {
        PostToolUse: [
          {
            matcher: "*",
            hooks: [
              {
                type: "http",
                url: "http://logbook.local:4680/hooks/claude-code",
                headers: { Authorization: "Bearer $LOGBOOK_API_KEY" },
                allowedEnvVars: ["LOGBOOK_API_KEY"],
                timeout: 3,
              },
            ],
          },
        ],
      },
    });
    expect(uninstallHooks(edit.text).text).toBe("{}\n");
  });

  it("a second install with another handler replaces ours in place: the person's handlers and matcher stay, a duplicate of ours goes", () => {
    const settings = {
      hooks: {
        PreToolUse: [
          sharedGroup("Bash"),
          { matcher: "*", hooks: [{ type: "command", command: "node /old/dist/logbook-hook.cjs", timeout: 5 }] },
        ],
        Stop: [{ hooks: [{ type: "command", command: "mine-too.sh" }] }],
      },
    };
    const edit = installHooks(`${JSON.stringify(settings, null, 2)}\n`, {
      events: ["PreToolUse", "Stop"],
      handler: commandHandler("node '/new dir/logbook-hook.cjs'"),
    });
    expect(edit.events).toEqual(["PreToolUse", "Stop"]);
    expect(edit.replaced).toEqual(["PreToolUse"]);
    expect(JSON.parse(edit.text)).toEqual({
      hooks: {
        PreToolUse: [
          {
            matcher: "Bash",
            hooks: [
              { type: "command", command: "mine.sh" },
              { type: "command", command: "node '/new dir/logbook-hook.cjs'", timeout: 5 },
            ],
          },
        ],
        Stop: [
          { hooks: [{ type: "command", command: "mine-too.sh" }] },
          { hooks: [{ type: "command", command: "node '/new dir/logbook-hook.cjs'", timeout: 5 }] },
        ],
      },
    });
  });

  it("--http gives events that take no http hooks (SessionStart, Setup) a command hook", () => {
    const command = commandHandler("logbook-hook");
    const http = httpHandler("http://127.0.0.1:4680");
    const edit = installHooks(undefined, {
      events: ["SessionStart", "Setup", "PreToolUse"],
      handler: (event) => (COMMAND_ONLY_EVENTS.has(event) ? command : http),
    });
    const hooks = (JSON.parse(edit.text) as { hooks: Record<string, Array<{ hooks: unknown[] }>> }).hooks;
    expect(expectDefined(expectDefined(hooks.SessionStart)[0]).hooks).toEqual([command]);
    expect(expectDefined(expectDefined(hooks.Setup)[0]).hooks).toEqual([command]);
    expect(expectDefined(expectDefined(hooks.PreToolUse)[0]).hooks).toEqual([http]);
  });

  it("uninstall removes only ours, also from a group a person shares with their own handler", () => {
    const shared = {
      hooks: {
        PreToolUse: [sharedGroup("*")],
      },
    };
    const result = uninstallHooks(`${JSON.stringify(shared, null, 2)}\n`);
    expect(JSON.parse(result.text)).toEqual({
      hooks: { PreToolUse: [{ matcher: "*", hooks: [{ type: "command", command: "mine.sh" }] }] },
    });
  });

  it("uninstall of a file without our hooks changes nothing", () => {
    const original = JSON.stringify(existing, null, 4);
    expect(uninstallHooks(original)).toEqual({ text: original, changed: false, events: [], replaced: [] });
    expect(uninstallHooks(undefined).changed).toBe(false);
  });

  it("recognises our handlers, and only ours", () => {
    expect(isLogbookHandler({ type: "command", command: "logbook-hook" })).toBe(true);
    expect(isLogbookHandler({ type: "command", command: "node /opt/x/dist/logbook-hook.js" })).toBe(true);
    expect(isLogbookHandler({ type: "command", command: "node /opt/x/dist/logbook-hook.cjs" })).toBe(true);
    expect(isLogbookHandler({ type: "command", command: "/usr/local/bin/logbook-hook record" })).toBe(true);
    expect(isLogbookHandler({ type: "command", command: "my-logbook-hook-wrapper.sh" })).toBe(false);
    expect(isLogbookHandler({ type: "command", command: "echo logbook-hooks" })).toBe(false);
    expect(isLogbookHandler({ type: "http", url: "http://x/hooks/claude-code" })).toBe(false);
    expect(isLogbookHandler(httpHandler("http://x"))).toBe(true);
  });

  it("refuses files it cannot edit safely, with a clear message", () => {
    expect(() => installHooks("{ // comment\n}", { events: ["Stop"], handler: commandHandler() })).toThrow(
      SettingsError,
    );
    expect(() => installHooks("[]", { events: ["Stop"], handler: commandHandler() })).toThrow(/not hold a JSON object/);
    expect(() => installHooks('{"hooks": []}', { events: ["Stop"], handler: commandHandler() })).toThrow(
      /"hooks" .* not an object/,
    );
    expect(() => installHooks('{"hooks": {"Stop": {}}}', { events: ["Stop"], handler: commandHandler() })).toThrow(
      /not a list/,
    );
    expect(() => installHooks("{}", { events: ["no such"], handler: commandHandler() })).toThrow(
      /not a hook event name/,
    );
  });
});

describe("logbook-hook install / uninstall (the built binary)", () => {
  const env = (home: string) => ({
    HOME: home,
    CLAUDE_CONFIG_DIR: undefined,
    LOGBOOK_HOME: join(home, ".logbook"),
    PATH: process.env.PATH,
  });

  it("--user edits ~/.claude/settings.json; install + uninstall leaves it as it was", async () => {
    const home = tempDir("inst");
    const file = join(home, ".claude", "settings.json");
    mkdirSync(join(home, ".claude"));
    const original = `${JSON.stringify(existing, null, 2)}\n`;
    writeFileSync(file, original, { mode: 0o640 });
    const install = await runBinary(["install", "--user"], { env: env(home) });
    expect(install.code).toBe(0);
    expect(install.stdout).toContain(`added Logbook to ${DEFAULT_HOOK_EVENTS.length} hook event(s)`);
    // The newer events would make an older Claude Code skip the whole file: said, with the way out.
    expect(install.stdout).toContain(`note: ${OLDER_CLAUDE_CODE_NOTE}\n`);
    expect(readFileSync(file, "utf8")).not.toBe(original);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    const again = await runBinary(["install"], { env: env(home) });
    expect(again.stdout).toContain("already installed");
    const syncFile = join(home, ".logbook", "sync", "settings.json");
    expect(JSON.parse(readFileSync(syncFile, "utf8"))).toMatchObject({ follow: true }); // install turned it on
    const uninstall = await runBinary(["uninstall", "--user"], { env: env(home) });
    expect(uninstall.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(original);
    // What install turned on, uninstall turns off.
    expect(uninstall.stdout).toContain("note: transcript sync off");
    expect(JSON.parse(readFileSync(syncFile, "utf8"))).toMatchObject({ follow: false });
  });

  it("uninstall --otel takes out what install --otel put in, key included; telemetry sent elsewhere stays", () => {
    const withOurs = {
      model: "opus",
      env: { KEEP: "me", ...otelEnvironment("http://127.0.0.1:4680", "lbk_0123456789ab_secret") },
    };
    const removed = uninstallOtelEnv(`${JSON.stringify(withOurs, null, 2)}\n`);
    expect(removed.changed).toBe(true);
    expect(JSON.parse(removed.text)).toEqual({ model: "opus", env: { KEEP: "me" } });
    expect(removed.text).not.toContain("lbk_");
    // Only ours in env: env goes too.
    const only = uninstallOtelEnv(`${JSON.stringify({ env: otelEnvironment("http://h", "lbk_x") }, null, 2)}\n`);
    expect(only.text).toBe("{}\n");
    const elsewhere = {
      env: { ...otelEnvironment("https://otel.example.com", "x"), OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc" },
    };
    const kept = uninstallOtelEnv(`${JSON.stringify(elsewhere, null, 2)}\n`);
    expect(kept).toMatchObject({ changed: false, elsewhere: true });
    expect(uninstallOtelEnv(`{"env":{"A":"1"}}\n`)).toMatchObject({ changed: false, elsewhere: false });
    expect(uninstallOtelEnv(undefined)).toMatchObject({ changed: false, elsewhere: false });
  });

  it("knows every event the contracts know; installs all by default but the worktree pair (refused) and MessageDisplay (opt-in)", async () => {
    expect([...CLAUDE_CODE_HOOK_EVENTS]).toEqual([...KNOWN_EVENT_TYPES.claudeCodeHooks]);
    expect(CLAUDE_CODE_HOOK_EVENTS).toHaveLength(33);
    expect(CLAUDE_CODE_HOOK_EVENTS.filter((event) => !DEFAULT_HOOK_EVENTS.includes(event))).toEqual([
      "MessageDisplay",
      "WorktreeCreate",
      "WorktreeRemove",
    ]);
    const home = tempDir("inst");
    const file = join(home, "settings.json");
    for (const event of ["WorktreeCreate", "WorktreeRemove"]) {
      const refused = await runBinary(["install", "--settings", file, "--events", `Stop,${event}`], { env: env(home) });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`will not install a ${event} hook`);
      expect(existsSync(file)).toBe(false);
    }
    // A name Claude Code does not know would make it skip the whole settings file: refused.
    const typo = await runBinary(["install", "--settings", file, "--events", "Stop,PreToolCall"], { env: env(home) });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("PreToolCall is not a hook event Claude Code documents");
    expect(typo.stderr).toContain("skips a whole settings file");
    expect(existsSync(file)).toBe(false);
    // Only the long-known events: no warning about older versions.
    const core = await runBinary(["install", "--settings", file, "--events", [...CORE_HOOK_EVENTS].join(",")], {
      env: env(home),
    });
    expect(core.code, core.stderr).toBe(0);
    expect(core.stdout).not.toContain(OLDER_CLAUDE_CODE_NOTE);
    expect(Object.keys((JSON.parse(readFileSync(file, "utf8")) as { hooks: object }).hooks)).toEqual([
      ...CORE_HOOK_EVENTS,
    ]);
    rmSync(file);
    const optIn = await runBinary(["install", "--settings", file, "--events", "MessageDisplay,PostModelSwitch"], {
      env: env(home),
    });
    expect(optIn.code).toBe(0);
    expect(Object.keys((JSON.parse(readFileSync(file, "utf8")) as { hooks: object }).hooks)).toEqual([
      "MessageDisplay",
      "PostModelSwitch",
    ]);
  });

  it("a file with nothing of ours is not written at all by uninstall", async () => {
    const home = tempDir("inst");
    const file = join(home, "settings.json");
    writeFileSync(file, JSON.stringify(existing, null, 2));
    const before = statSync(file);
    const r = await runBinary(["uninstall", "--settings", file], { env: env(home) });
    expect(r.stdout).toContain("no Logbook hooks");
    const after = statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it("--dry-run prints a diff and writes nothing", async () => {
    const home = tempDir("inst");
    const file = join(home, "settings.json");
    const original = `${JSON.stringify(existing, null, 2)}\n`;
    writeFileSync(file, original);
    const r = await runBinary(["install", "--settings", file, "--events", "PreToolUse,Stop", "--dry-run"], {
      env: env(home),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^--- /m);
    // logbook-hook is not on the test's PATH: the command names this build by its path
    expect(r.stdout).toMatch(/^\+\s+"command": "node .*\/dist\/logbook-hook\.cjs",$/m);
    expect(readFileSync(file, "utf8")).toBe(original);
  });

  it("refuses a --url that is not an http(s) URL, before it writes the credentials or a hook", async () => {
    const home = tempDir("inst");
    const file = join(home, "settings.json");
    for (const args of [["--http"], ["--otel"], []]) {
      const r = await runBinary(["install", "--settings", file, "--url", "notaurl", "--api-key", "k", ...args], {
        env: env(home),
      });
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toContain("--url notaurl: must be an http:// or https:// URL");
    }
    expect(existsSync(file)).toBe(false);
    expect(existsSync(join(home, ".logbook", "credentials"))).toBe(false);
  });

  it("--project edits ./.claude/settings.json, creating it; --http writes an http hook", async () => {
    const home = tempDir("inst");
    const project = join(home, "proj");
    mkdirSync(project);
    const r = await runBinary(
      ["install", "--project", "--http", "--url", "http://127.0.0.1:9999", "--events", "Stop"],
      { env: env(home), cwd: project },
    );
    expect(r.code).toBe(0);
    const written = JSON.parse(readFileSync(join(project, ".claude", "settings.json"), "utf8")) as {
      hooks: { Stop: Array<{ hooks: Array<{ url: string }> }> };
    };
    expect(expectDefined(expectDefined(written.hooks.Stop[0]).hooks[0]).url).toBe(
      "http://127.0.0.1:9999/hooks/claude-code",
    );
  });

  it("follows a symlinked settings file (the link stays a link)", async () => {
    const home = tempDir("inst");
    const real = join(home, "dotfiles-settings.json");
    writeFileSync(real, "{}\n");
    mkdirSync(join(home, ".claude"));
    symlinkSync(real, join(home, ".claude", "settings.json"));
    await runBinary(["install", "--events", "Stop"], { env: env(home) });
    expect(readFileSync(real, "utf8")).toContain("logbook-hook");
    await runBinary(["uninstall"], { env: env(home) });
    expect(readFileSync(real, "utf8")).toBe("{}\n");
  });

  it("a file not in standard layout is kept as a backup before it is re-formatted", async () => {
    const home = tempDir("inst");
    const file = join(home, "settings.json");
    const original = '{"model": "opus",   "env": {"A": "1"}}';
    writeFileSync(file, original);
    const r = await runBinary(["install", "--settings", file, "--events", "Stop"], { env: env(home) });
    expect(r.stdout).toContain("logbook-backup");
    expect(readFileSync(`${file}.logbook-backup`, "utf8")).toBe(original);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ model: "opus", env: { A: "1" } });
  });

  it("invalid JSON: exit 1, clear message, file untouched", async () => {
    const home = tempDir("inst");
    const file = join(home, "settings.json");
    writeFileSync(file, "{ not json");
    const r = await runBinary(["install", "--settings", file], { env: env(home) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not valid JSON/);
    expect(readFileSync(file, "utf8")).toBe("{ not json");
    expect(existsSync(`${file}.logbook-backup`)).toBe(false);
  });
});

describe("the commands' front door", () => {
  it("prints its version and its usage, which names every install and sync option", async () => {
    const version = await runBinary(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const help = await runBinary(["--help"]);
    expect(help.code).toBe(0);
    for (const option of ["--no-sync", "--sync-path PATH", "--follow", "--otel", "--version"]) {
      expect(help.stdout).toContain(option);
    }
    expect(help.stdout).toMatch(/sync \[PATH\.\.\.\][^\n]*\[--url URL\] \[--api-key KEY\]/);
    const unknown = await runBinary(["--verison"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command: --verison");
  });
});
