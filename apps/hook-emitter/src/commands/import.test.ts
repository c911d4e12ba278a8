import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { runBinary, tempDir } from "../../test/helpers.js";

/** `logbook-hook import` where there is nothing to import (the full import is in test/e2e.test.ts). */
describe("logbook-hook import with nothing to import", () => {
  const env = (home: string) => ({
    HOME: home,
    LOGBOOK_HOME: join(home, ".logbook"),
    CLAUDE_CONFIG_DIR: undefined,
    LOGBOOK_API_KEY: undefined,
    LOGBOOK_URL: undefined,
  });

  it("no ~/.claude/projects (Claude Code never ran here): one clear line, exit 0, no ENOENT, even without a key", async () => {
    const home = tempDir("import-none");
    const r = await runBinary(["import"], { env: env(home) });
    expect(r).toEqual({
      code: 0,
      stdout: `nothing to import: ${join(home, ".claude", "projects")} does not exist (no Claude Code transcripts here)\n`,
      stderr: "",
    });
    const json = await runBinary(["import", "--json"], { env: env(home) });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      files: 0,
      sessions: 0,
      events: 0,
      accepted: 0,
      duplicates: 0,
      errors: 0,
      replacedCharacters: 0,
    });
  });

  it("honours CLAUDE_CONFIG_DIR", async () => {
    const home = tempDir("import-none");
    const r = await runBinary(["import"], { env: { ...env(home), CLAUDE_CONFIG_DIR: join(home, "cc") } });
    expect(r.stdout).toBe(
      `nothing to import: ${join(home, "cc", "projects")} does not exist (no Claude Code transcripts here)\n`,
    );
  });

  it("a PATH given that does not exist: exit 1 with a message that names it, no raw ENOENT", async () => {
    const home = tempDir("import-none");
    mkdirSync(join(home, "here"));
    const r = await runBinary(["import", join(home, "here"), join(home, "not-here")], { env: env(home) });
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: `logbook-hook import: no such file or folder: ${join(home, "not-here")}\n`,
    });
  });

  it("a --url that is not an http(s) URL: exit 1 naming it, for import and sync alike", async () => {
    const home = tempDir("import-none");
    mkdirSync(join(home, "here"));
    for (const command of ["import", "sync"]) {
      const r = await runBinary([command, join(home, "here"), "--url", "localhost:4680", "--api-key", "k"], {
        env: env(home),
      });
      expect(r, command).toEqual({
        code: 1,
        stdout: "",
        stderr: `logbook-hook ${command}: --url localhost:4680: must be an http:// or https:// URL, e.g. http://127.0.0.1:4680\n`,
      });
    }
  });
});
