import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import type { HookEnvelope, LogbookClient } from "@logbook/sdk";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BINARY = join(PACKAGE_ROOT, "dist", "logbook.js");
export const FIXTURES = join(PACKAGE_ROOT, "test", "fixtures");
/** The hook emitter's built binary: the tests import transcripts the way users do. */
export const HOOK_BINARY = join(PACKAGE_ROOT, "node_modules", "@logbook", "hook-emitter", "dist", "logbook-hook.cjs");

/** The fixture transcript session (Claude Code's session id) and its subagent. */
export const TRANSCRIPT_SESSION = "7f3c1a52-0d4e-4b8a-9c1e-2a5b6d7e8f90";
export const SUBAGENT_SESSION = `${TRANSCRIPT_SESSION}:agent:a4e91c7`;
/** Hook fixture sessions: one waiting for permission, one busy on another machine. */
export const WAITING_SESSION = "c0ffee00-aaaa-4bbb-8ccc-000000000001";
export const ACTIVE_SESSION = "c0ffee00-aaaa-4bbb-8ccc-000000000002";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a child process to its end, collecting what it wrote. */
function collect(child: ChildProcess): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    expectDefined(child.stdout)
      .setEncoding("utf8")
      .on("data", (chunk: string) => (stdout += chunk));
    expectDefined(child.stderr)
      .setEncoding("utf8")
      .on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs `node dist/logbook.js <args>` with only the environment given (plus PATH, and TZ=UTC
 * unless given), so the
 * developer's own LOGBOOK_* or ~/.logbook never leak in: HOME is a fresh directory.
 */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<RunResult> {
  return collect(spawnCli(args, env, cwd));
}

let emptyHome: string | undefined;

export function spawnCli(args: string[], env: Record<string, string> = {}, cwd?: string): ChildProcess {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: the global setup builds it`);
  emptyHome ??= tempDir("logbook-cli-home-");
  return spawn(process.execPath, [BINARY, ...args], {
    // TZ: times for people are this machine's; a test that is about them sets its own zone.
    env: {
      PATH: process.env.PATH ?? "",
      HOME: emptyHome,
      LOGBOOK_HOME: join(emptyHome, ".logbook"),
      TZ: "UTC",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    ...(cwd !== undefined ? { cwd } : {}),
  });
}

interface HookFixture {
  machineId: string;
  startAt: string;
  payloads: Array<Record<string, unknown>>;
}

/** A hook fixture as the emitter would send it: one envelope per payload, a minute apart. */
export function hookEnvelopes(name: string): HookEnvelope[] {
  const fixture = JSON.parse(readFileSync(join(FIXTURES, "hooks", `${name}.json`), "utf8")) as HookFixture;
  const start = Date.parse(fixture.startAt);
  return fixture.payloads.map((payload, index) => ({
    machineId: fixture.machineId,
    occurredAt: new Date(start + index * 60_000).toISOString(),
    payload,
  }));
}

export async function ingestHookFixtures(client: LogbookClient): Promise<void> {
  await client.hooks.ingest.mutate({
    events: [...hookEnvelopes("waiting-session"), ...hookEnvelopes("active-session")],
  });
}

/** Runs `logbook-hook import <path>` (the fixture transcripts by default) against the server, as users import. */
export function importTranscripts(url: string, apiKey: string, path = join(FIXTURES, "projects")): Promise<RunResult> {
  if (!existsSync(HOOK_BINARY)) throw new Error(`${HOOK_BINARY} is missing: build @logbook/hook-emitter first`);
  const args = [HOOK_BINARY, "import", path, "--url", url, "--api-key", apiKey, "--json"];
  const env = { PATH: process.env.PATH ?? "", HOME: tempDir("logbook-cli-import-") };
  return collect(spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] }));
}

/**
 * Collects a running command's output line by line and lets a test wait for a line that
 * matches (no timing assumptions: it waits for the condition, the test timeout bounds it).
 */
export function watchLines(child: ChildProcess) {
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const waiters: Array<() => void> = [];
  const feed = (stream: NodeJS.ReadableStream | null, into: string[]) => {
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
      into.push(line);
      for (const wake of waiters.splice(0)) wake();
    });
  };
  feed(child.stdout, lines.stdout);
  feed(child.stderr, lines.stderr);
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  child.once("close", () => {
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    lines,
    exited,
    /** Resolves when `predicate` holds for the lines seen so far; rejects if the process ends first. */
    async until(predicate: (seen: typeof lines) => boolean, what: string): Promise<void> {
      while (!predicate(lines)) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the command ended before ${what}:\n${lines.stdout.join("\n")}\n${lines.stderr.join("\n")}`);
        }
        await new Promise<void>((wake) => waiters.push(wake));
      }
    },
  };
}
