import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { DEFAULT_URL, readEnvironment, resolveConnection } from "./config.js";
import { CliError } from "./exit-codes.js";

const tty = { stdoutTTY: true, stderrTTY: true };
const pipe = { stdoutTTY: false, stderrTTY: false };

describe("readEnvironment", () => {
  it("colors only on a terminal, never with NO_COLOR or TERM=dumb", () => {
    expect(readEnvironment({}, tty).color).toBe(true);
    expect(readEnvironment({}, pipe).color).toBe(false);
    expect(readEnvironment({ NO_COLOR: "1" }, tty).color).toBe(false);
    expect(readEnvironment({ NO_COLOR: "" }, tty).color).toBe(true); // no-color.org: only a non-empty value counts
    expect(readEnvironment({ TERM: "dumb" }, tty).color).toBe(false);
    // CI=1 alone must not turn colors on in a log file (some color libraries do).
    expect(readEnvironment({ CI: "1", FORCE_COLOR: "1" }, pipe).color).toBe(false);
  });

  it("fits tables to COLUMNS when set, else to the terminal; a pipe gets every value whole", () => {
    expect(readEnvironment({}, { ...tty, stdoutColumns: 100 }).width).toBe(100);
    expect(readEnvironment({}, { ...pipe, stdoutColumns: 100 }).width).toBeUndefined();
    expect(readEnvironment({ COLUMNS: "72" }, { ...tty, stdoutColumns: 100 }).width).toBe(72);
    expect(readEnvironment({ COLUMNS: "72" }, pipe).width).toBe(72);
    for (const ignored of ["", "0", "-5", "wide", "80.5"]) {
      expect(readEnvironment({ COLUMNS: ignored }, pipe).width).toBeUndefined();
    }
  });

  it("spinners only when stderr is a terminal", () => {
    expect(readEnvironment({}, { stdoutTTY: false, stderrTTY: true }).interactive).toBe(true);
    expect(readEnvironment({}, { stdoutTTY: true, stderrTTY: false }).interactive).toBe(false);
  });

  it("opens a browser on Linux only with a display (DISPLAY or WAYLAND_DISPLAY)", () => {
    if (process.platform !== "linux") return;
    expect(readEnvironment({}, pipe).canOpenBrowser).toBe(false);
    expect(readEnvironment({ DISPLAY: "" }, pipe).canOpenBrowser).toBe(false);
    expect(readEnvironment({ DISPLAY: ":0" }, pipe).canOpenBrowser).toBe(true);
    expect(readEnvironment({ WAYLAND_DISPLAY: "wayland-0" }, pipe).canOpenBrowser).toBe(true);
  });

  it("LOGBOOK_HOME overrides ~/.logbook", () => {
    expect(readEnvironment({ LOGBOOK_HOME: "/srv/lb" }, pipe).home).toBe("/srv/lb");
    expect(readEnvironment({}, pipe).home).toMatch(/\.logbook$/);
  });
});

describe("resolveConnection", () => {
  const home = mkdtempSync(join(tmpdir(), "logbook-cli-config-"));
  writeFileSync(join(home, "credentials"), JSON.stringify({ url: "http://file:1/", apiKey: "lbk_file" }));

  it("takes each of URL and key from the flag, else the environment, else the credentials file", () => {
    const environment = readEnvironment({ LOGBOOK_HOME: home }, pipe);
    expect(resolveConnection(environment, {})).toEqual({ url: "http://file:1", apiKey: "lbk_file" });
    const withEnv = readEnvironment(
      { LOGBOOK_HOME: home, LOGBOOK_URL: "http://env:2", LOGBOOK_API_KEY: "lbk_env" },
      pipe,
    );
    expect(resolveConnection(withEnv, {})).toEqual({ url: "http://env:2", apiKey: "lbk_env" });
    expect(resolveConnection(withEnv, { url: "https://flag:3", apiKey: "lbk_flag" })).toEqual({
      url: "https://flag:3",
      apiKey: "lbk_flag",
    });
    expect(resolveConnection(readEnvironment({ LOGBOOK_HOME: home, LOGBOOK_URL: "http://env:2" }, pipe), {})).toEqual({
      url: "http://env:2",
      apiKey: "lbk_file",
    });
  });

  it("defaults the URL to the local server's and needs a key (exit 4 without one)", () => {
    const empty = readEnvironment({ LOGBOOK_HOME: mkdtempSync(join(tmpdir(), "logbook-cli-empty-")) }, pipe);
    expect(() => resolveConnection(empty, {})).toThrow(/no API key/);
    expect(resolveConnection(empty, { apiKey: "k" }).url).toBe(DEFAULT_URL);
    try {
      resolveConnection(empty, {});
    } catch (error) {
      expect((error as CliError).exitCode).toBe(4);
    }
  });

  it("refuses URLs that are not http(s) or that carry credentials (exit 2)", () => {
    const environment = readEnvironment({ LOGBOOK_HOME: home }, pipe);
    for (const url of ["ftp://x", "nonsense", "http://user:secret@host:1"]) {
      expect(() => resolveConnection(environment, { url, apiKey: "k" })).toThrow(CliError);
    }
  });

  it("says which file is broken when the credentials file is not JSON", () => {
    const broken = mkdtempSync(join(tmpdir(), "logbook-cli-broken-"));
    writeFileSync(join(broken, "credentials"), "{ not json");
    expect(() => resolveConnection(readEnvironment({ LOGBOOK_HOME: broken }, pipe), {})).toThrow(
      `${join(broken, "credentials")} is not valid JSON`,
    );
  });
});
