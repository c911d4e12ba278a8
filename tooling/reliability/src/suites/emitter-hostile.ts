import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { envelopeText, stopDeliverer, uuidv7 } from "@logbook/hook-emitter";

import type { Check } from "../checks.js";
import type { Cluster } from "../lib/cluster.js";
import { startServer } from "../lib/server.js";
import { round, sleep } from "../lib/stats.js";
import { snapshotHookBinary } from "./faults.js";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

/**
 * The emitter on a hostile machine (issue 14 items 4, 5, 8), through the real built binary
 * against the real built server:
 *
 * - **full disk**: hooks run under `ulimit -f 2` (1 KiB; RLIMIT_FSIZE binds root too) with
 *   SIGXFSZ ignored, so writing a 4 KiB event fails part way in the kernel (EFBIG), as a full
 *   disk (ENOSPC) does; the log's short lines still fit;
 * - **unwritable spool**: a file where the spool folder should be (refused for root too);
 * - **bad entries**: a folder named like a spool entry, a file whose id is not its name's, a
 *   mode-000 file (readable anyway when the suite runs as root), among good events; then
 *   `logbook-hook flush` twice;
 * - **a deliverer that cannot set an entry aside** (`rejected/` is a file): its CPU use,
 *   from /proc, and whether it exits by itself when idle;
 * - **permissions**: what a first hook run creates under umask 022, and what `flush` makes of
 *   folders 0755 and files 0644 left by an older version.
 */

export interface EmitterHostileOptions {
  /** Hooks per "cannot spool" scenario. */
  hooks: number;
  /** The deliverer's idle time in the CPU probe. */
  idleMs: number;
  log?: (line: string) => void;
}

interface SpoolScenario {
  hooks: number;
  stored: number;
  nonZeroExits: number;
  stdoutBytes: number;
  sentDirectlyLogged: number;
  partialTempFiles: number;
}

export interface EmitterHostileReport {
  runAsRoot: boolean;
  fullDisk: SpoolScenario;
  unwritableSpool: SpoolScenario;
  badEntries: {
    good: number;
    stored: number;
    quarantined: number;
    withReason: number;
    liarIdStored: boolean;
    flushExitCodes: number[];
    storedBySecondFlush: number;
  };
  deliverer: {
    idleMs: number;
    exitedByItself: boolean;
    wallS: number;
    cpuS: number;
    cpuPercent: number;
    attempts: number;
  };
  permissions: {
    created: { checked: number; open: string[] };
    tightened: { checked: number; open: string[] };
  };
}

interface Run {
  code: number | null;
  stdout: string;
  pid: number | undefined;
}

function run(file: string, args: string[], env: Record<string, string>, stdin = ""): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ["pipe", "pipe", "ignore"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, pid: child.pid }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
  });
}

/** Modes under `dir` (a `$LOGBOOK_HOME`) that are not private (folders 0700, files 0600), as `path mode`. */
function openModes(dir: string): { checked: number; open: string[] } {
  const open: string[] = [];
  let checked = 0;
  const walk = (path: string, shown: string) => {
    const stat = lstatSync(path);
    const mode = stat.mode & 0o777;
    checked++;
    if (stat.isDirectory()) {
      if (mode !== 0o700) open.push(`${shown}/ ${mode.toString(8)}`);
      for (const name of readdirSync(path)) walk(join(path, name), `${shown}/${name}`);
    } else if (stat.isFile() && mode !== 0o600) open.push(`${shown} ${mode.toString(8)}`);
  };
  walk(dir, "$LOGBOOK_HOME");
  return { checked, open };
}

/** utime + stime of a live process, in seconds (Linux /proc). */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    const fields = expectDefined(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks, USER_HZ = 100
  } catch {
    return undefined;
  }
}

export async function runEmitterHostile(
  cluster: Cluster,
  options: EmitterHostileOptions,
): Promise<EmitterHostileReport> {
  const log = options.log ?? (() => undefined);
  const server = await startServer(cluster.url);
  const root = await mkdtemp(join(tmpdir(), "logbook-rel-emitter-hostile-"));
  const { path: hookBin } = await snapshotHookBinary(root);
  const tag = randomBytes(4).toString("hex");
  const baseEnv = (home: string): Record<string, string> => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    LOGBOOK_HOME: home,
    LOGBOOK_URL: server.url,
    LOGBOOK_API_KEY: server.apiKey,
  });
  /** Distinct events (by their `n`) the server stored for a session. */
  const storedFor = async (session: string): Promise<number> => {
    const result = await cluster.knex.raw<{ rows: Array<{ n: string }> }>(
      "SELECT count(DISTINCT payload->>'n') AS n FROM events WHERE payload->>'session_id' = ?",
      [session],
    );
    return Number(expectDefined(result.rows[0]).n);
  };
  const logLines = (home: string, pattern: RegExp) => {
    const file = join(home, "logs", "hook.log");
    return existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => pattern.test(l)).length
      : 0;
  };
  const tempFiles = (home: string) => {
    const dir = join(home, "spool", "tmp");
    return existsSync(dir) && lstatSync(dir).isDirectory() ? readdirSync(dir).length : 0;
  };

  async function cannotSpool(name: string, prepare: (home: string) => void, wrap: string[]): Promise<SpoolScenario> {
    const home = join(root, name);
    mkdirSync(home, { mode: 0o700 });
    prepare(home);
    const session = `${name}-${tag}`;
    const scenario: SpoolScenario = {
      hooks: options.hooks,
      stored: 0,
      nonZeroExits: 0,
      stdoutBytes: 0,
      sentDirectlyLogged: 0,
      partialTempFiles: 0,
    };
    for (let n = 0; n < options.hooks; n++) {
      const payload = JSON.stringify({
        session_id: session,
        hook_event_name: "PostToolUse",
        n,
        tool_response: "x".repeat(4096),
      });
      // A 10 s budget for the one post (default 400 ms): what is probed is that the event is
      // sent rather than dropped, not how fast a loaded machine answers.
      const r = await run(
        "/bin/sh",
        ["-c", `${wrap.join(" ")} exec "$0" "$1"`, process.execPath, hookBin],
        { ...baseEnv(home), LOGBOOK_HOOK_TIMEOUT_MS: "10000" },
        payload,
      );
      if (r.code !== 0) scenario.nonZeroExits++;
      scenario.stdoutBytes += r.stdout.length;
    }
    stopDeliverer(join(home, "spool"));
    scenario.stored = await storedFor(session);
    scenario.sentDirectlyLogged = logLines(home, /could not be spooled .*: sent directly/);
    scenario.partialTempFiles = tempFiles(home);
    log(`emitter-hostile: ${name}: ${scenario.stored}/${scenario.hooks} stored`);
    return scenario;
  }

  try {
    const fullDisk = await cannotSpool("full-disk", () => undefined, ["trap '' XFSZ;", "ulimit -f 2;"]);
    const unwritableSpool = await cannotSpool(
      "spool-is-a-file",
      (home) => writeFileSync(join(home, "spool"), "not a folder"),
      [],
    );

    // Bad entries among good ones, then `logbook-hook flush` twice.
    const badHome = join(root, "bad-entries");
    const spool = join(badHome, "spool");
    mkdirSync(spool, { recursive: true, mode: 0o700 });
    const badSession = `bad-entries-${tag}`;
    const good = 20;
    for (let n = 0; n < good; n++) {
      const id = uuidv7(Date.now() + n);
      writeFileSync(
        join(spool, `${id}.json`),
        envelopeText(
          id,
          new Date().toISOString(),
          "m",
          JSON.stringify({ session_id: badSession, hook_event_name: "Stop", n }),
        ),
      );
    }
    mkdirSync(join(spool, `${uuidv7(Date.now() - 30)}.json`));
    const liarId = uuidv7();
    writeFileSync(
      join(spool, `${uuidv7(Date.now() - 20)}.json`),
      envelopeText(
        liarId,
        new Date().toISOString(),
        "m",
        JSON.stringify({ session_id: `${badSession}-liar`, hook_event_name: "Stop" }),
      ),
    );
    const lockedId = uuidv7(Date.now() - 10);
    writeFileSync(
      join(spool, `${lockedId}.json`),
      envelopeText(
        lockedId,
        new Date().toISOString(),
        "m",
        JSON.stringify({ session_id: `${badSession}-locked`, hook_event_name: "Stop", n: 0 }),
      ),
    );
    chmodSync(join(spool, `${lockedId}.json`), 0o000);
    const first = await run(process.execPath, [hookBin, "flush"], baseEnv(badHome));
    const before = await cluster.knex.raw<{ rows: Array<{ n: string }> }>("SELECT count(*) AS n FROM events");
    const second = await run(process.execPath, [hookBin, "flush"], baseEnv(badHome));
    const after = await cluster.knex.raw<{ rows: Array<{ n: string }> }>("SELECT count(*) AS n FROM events");
    const rejected = existsSync(join(spool, "rejected")) ? readdirSync(join(spool, "rejected")) : [];
    const liarStored = await cluster.knex.raw<{ rows: unknown[] }>("SELECT 1 FROM events WHERE id = ?", [liarId]);
    const badEntries = {
      good,
      stored: await storedFor(badSession),
      quarantined: rejected.filter((n) => n.endsWith(".json")).length,
      withReason: rejected.filter((n) => n.endsWith(".json.reason")).length,
      liarIdStored: liarStored.rows.length > 0,
      flushExitCodes: [first.code ?? -1, second.code ?? -1],
      storedBySecondFlush: Number(expectDefined(after.rows[0]).n) - Number(expectDefined(before.rows[0]).n),
    };
    log(
      `emitter-hostile: bad entries: ${badEntries.quarantined} quarantined, flush exits ${badEntries.flushExitCodes.join(", ")}`,
    );

    // A deliverer facing an entry it can neither send nor set aside.
    const spinHome = join(root, "deliverer");
    mkdirSync(join(spinHome, "spool"), { recursive: true, mode: 0o700 });
    mkdirSync(join(spinHome, "spool", `${uuidv7()}.json`));
    writeFileSync(join(spinHome, "spool", "rejected"), "a file where rejected/ should be");
    const started = Date.now();
    const child = spawn(process.execPath, [hookBin, "deliver"], {
      env: { ...baseEnv(spinHome), LOGBOOK_DELIVER_IDLE_MS: String(options.idleMs) },
      stdio: "ignore",
    });
    let cpuS = 0;
    let exited = false;
    child.on("exit", () => (exited = true));
    const deadline = started + options.idleMs + 30_000;
    while (!exited && Date.now() < deadline) {
      cpuS = cpuSecondsOf(expectDefined(child.pid)) ?? cpuS;
      await sleep(100);
    }
    const exitedByItself = exited;
    if (!exited) child.kill("SIGKILL");
    const wallS = (Date.now() - started) / 1000;
    const deliverer = {
      idleMs: options.idleMs,
      exitedByItself,
      wallS: round(wallS, 2),
      cpuS: round(cpuS, 2),
      cpuPercent: round((100 * cpuS) / wallS, 1),
      attempts: logLines(spinHome, /could not be moved to rejected\//),
    };
    log(
      `emitter-hostile: deliverer: ${deliverer.cpuPercent}% CPU over ${deliverer.wallS} s, exited: ${exitedByItself}`,
    );

    // Permissions: a first run under umask 022, then an older version's open modes tightened.
    const fresh = join(root, "fresh-home");
    const umask = (stdin: string) =>
      run(
        "/bin/sh",
        ["-c", `umask 022; exec "$0" "$1"`, process.execPath, hookBin],
        { ...baseEnv(fresh), LOGBOOK_URL: "http://127.0.0.1:9", LOGBOOK_NO_BACKGROUND_FLUSH: "1" },
        stdin,
      );
    await umask(JSON.stringify({ session_id: `perm-${tag}`, hook_event_name: "Stop" }));
    await umask("not json");
    const created = openModes(fresh);
    // As an older version left them: every folder 0755, every file 0644.
    const loosen = (path: string) => {
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        chmodSync(path, 0o755);
        for (const name of readdirSync(path)) loosen(join(path, name));
      } else if (stat.isFile()) chmodSync(path, 0o644);
    };
    loosen(fresh);
    await run(process.execPath, [hookBin, "flush"], { ...baseEnv(fresh), LOGBOOK_URL: "http://127.0.0.1:9" });
    // $LOGBOOK_HOME itself is left as the person set it (it may be a folder of theirs).
    const tightened = openModes(fresh);
    tightened.open = tightened.open.filter((line) => !line.startsWith("$LOGBOOK_HOME/ "));

    return {
      runAsRoot: process.getuid?.() === 0,
      fullDisk,
      unwritableSpool,
      badEntries,
      deliverer,
      permissions: { created, tightened },
    };
  } finally {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const check = (what: string, figure: string | number, ok: boolean): Check => ({
  suite: "emitter-hostile",
  what,
  figure: String(figure),
  ok,
});

export function emitterHostileChecks(r: EmitterHostileReport): Check[] {
  const spoolChecks = (label: string, s: SpoolScenario) => [
    check(
      `${label}: events stored of hooks run (sent directly, logged)`,
      `${s.stored}/${s.hooks} (${s.sentDirectlyLogged} logged)`,
      // Logged when the log can be written: under the full-disk limit it fills after a few lines.
      s.stored === s.hooks && s.sentDirectlyLogged > 0,
    ),
    check(
      `${label}: non-zero exits / stdout bytes / partial temp files`,
      `${s.nonZeroExits} / ${s.stdoutBytes} / ${s.partialTempFiles}`,
      s.nonZeroExits === 0 && s.stdoutBytes === 0 && s.partialTempFiles === 0,
    ),
  ];
  const b = r.badEntries;
  // As root a mode-000 file is readable: it is a good envelope and is sent.
  const expectedQuarantine = r.runAsRoot ? 2 : 3;
  return [
    ...spoolChecks("full disk (EFBIG part way)", r.fullDisk),
    ...spoolChecks("spool folder is a file", r.unwritableSpool),
    check(
      `bad entries: good events stored / quarantined with a reason (expected ${expectedQuarantine}${r.runAsRoot ? ", as root" : ""})`,
      `${b.stored}/${b.good} / ${b.quarantined} (${b.withReason} reasons)`,
      b.stored === b.good && b.quarantined === expectedQuarantine && b.withReason === expectedQuarantine,
    ),
    check(
      "bad entries: flush exit codes / events stored by the second flush / mismatched id stored",
      `${b.flushExitCodes.join(", ")} / ${b.storedBySecondFlush} / ${b.liarIdStored}`,
      b.flushExitCodes.every((c) => c === 0) && b.storedBySecondFlush === 0 && !b.liarIdStored,
    ),
    check(
      `deliverer with an entry it cannot set aside: CPU / exited by itself after ${r.deliverer.idleMs} ms idle / attempts`,
      `${r.deliverer.cpuPercent}% of ${r.deliverer.wallS} s / ${r.deliverer.exitedByItself} / ${r.deliverer.attempts}`,
      r.deliverer.exitedByItself && r.deliverer.cpuPercent < 50 && r.deliverer.attempts < 50,
    ),
    check(
      "permissions: created by a first run under umask 022 (not 0700/0600)",
      `${r.permissions.created.open.length} of ${r.permissions.created.checked}${r.permissions.created.open.length ? `: ${r.permissions.created.open.join(", ")}` : ""}`,
      r.permissions.created.open.length === 0,
    ),
    check(
      "permissions: left open by an older version, after one flush",
      `${r.permissions.tightened.open.length} of ${r.permissions.tightened.checked}${r.permissions.tightened.open.length ? `: ${r.permissions.tightened.open.join(", ")}` : ""}`,
      r.permissions.tightened.open.length === 0,
    ),
  ];
}
