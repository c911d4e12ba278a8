import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";
import { waitFor } from "@logbook/vitest-config/wait-for";

import { BINARY, runBinary, runProcess, useFakeServerAndHome } from "../test/helpers.js";
import { deliver } from "./deliver.js";
import { flushSpool } from "./flush.js";
import { uuidv7 } from "./ids.js";
import { cleanStaleTemp, envelopeText, listSpool, spoolEvent, STALE_TEMP_MS, writeAtomic } from "./spool.js";

/**
 * A hostile machine (issue 14): a spool that cannot be written (full disk, a file where the
 * folder should be, no permission), entries that cannot be read or lie about their id, and
 * files other users could read. Through the built binary where that is what runs, with the
 * wire-contract stand-in server (test/helpers.ts).
 *
 * "Full disk" without root: the hook runs under `ulimit -f` (RLIMIT_FSIZE, which binds root
 * too) with SIGXFSZ ignored, so a write past the limit fails in the kernel (EFBIG) after
 * writing part of the file, as a full disk (ENOSPC) does.
 */

const isRoot = process.getuid?.() === 0;

const t = useFakeServerAndHome("hostile-spool");

const bigPayload = (session: string) =>
  JSON.stringify({ session_id: session, hook_event_name: "PreToolUse", tool_input: { blob: "x".repeat(4096) } });

const logOf = (dir: string) => {
  const path = join(dir, "logs", "hook.log");
  return existsSync(path) ? readFileSync(path, "utf8") : "";
};

const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: t.home,
  LOGBOOK_HOME: t.home,
  LOGBOOK_URL: t.fake.url,
  LOGBOOK_API_KEY: "k",
  // The one post an unspoolable event gets: 10 s rather than 400 ms, so a loaded machine's slow
  // answer is not mistaken for a drop (what is tested is that the event is sent at all).
  LOGBOOK_HOOK_TIMEOUT_MS: "10000",
  ...extra,
});

/** The hook as Claude Code runs it, but with file sizes limited to `blocks` × 512 bytes. */
const hookWithFileLimit = (blocks: number, stdin: string, extra: Record<string, string> = {}) =>
  runProcess("/bin/sh", ["-c", `trap '' XFSZ; ulimit -f ${blocks}; exec "$0" "$1"`, process.execPath, BINARY], {
    env: env(extra),
    stdin,
  });

function spoolSome(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const id = uuidv7(Date.now() + i);
    spoolEvent(
      t.spoolDir,
      id,
      envelopeText(id, new Date().toISOString(), "m", JSON.stringify({ session_id: "s", hook_event_name: "Stop", i })),
    );
    return id;
  });
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe("an event that cannot be spooled is sent directly, not dropped", () => {
  it("full disk (the write fails part way): background mode posts it itself, logs it, leaves no partial file", async () => {
    const r = await hookWithFileLimit(2, bigPayload("full-disk"));
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(
      t.fake.received.filter((q) => q.path === "/hooks/claude-code").map((q) => JSON.parse(q.body) as unknown),
    ).toEqual([JSON.parse(bigPayload("full-disk"))]);
    expect(t.fake.stored).toHaveLength(1);
    expect(logOf(t.home)).toMatch(/could not be spooled \(EFBIG\): sent directly/);
    expect(readdirSync(join(t.spoolDir, "tmp"))).toEqual([]);
    expect(listSpool(t.spoolDir)).toEqual([]);
  });

  it("direct mode, spool not empty and full disk: the event is posted rather than queued and lost", async () => {
    spoolSome(1);
    t.fake.respond = (q) => (q.path === "/trpc/hooks.ingest" ? { status: 503 } : undefined);
    const r = await hookWithFileLimit(2, bigPayload("full-direct"), { LOGBOOK_HOOK_DELIVERY: "direct" });
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(t.fake.stored).toHaveLength(1);
    expect(readdirSync(join(t.spoolDir, "tmp"))).toEqual([]);
  });

  it("a file where the spool folder should be (unwritable, also for root): sent directly", async () => {
    writeFileSync(t.spoolDir, "not a folder");
    const r = await runBinary([], {
      stdin: JSON.stringify({ session_id: "no-spool", hook_event_name: "Stop" }),
      env: { ...env(), LOGBOOK_NO_BACKGROUND_FLUSH: undefined },
    });
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(t.fake.stored).toHaveLength(1);
    expect(logOf(t.home)).toMatch(/could not be spooled \((ENOTDIR|EEXIST)\): sent directly/);
  });

  it("a spool folder without write permission: sent directly (as root, which permission bits do not stop, spooled and delivered)", async () => {
    mkdirSync(t.spoolDir, { mode: 0o500 });
    chmodSync(t.spoolDir, 0o500);
    const r = await runBinary([], {
      stdin: JSON.stringify({ session_id: "read-only", hook_event_name: "Stop" }),
      env: { ...env(), LOGBOOK_NO_BACKGROUND_FLUSH: undefined, LOGBOOK_DELIVER_IDLE_MS: "0" },
    });
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    await waitFor("the event stored", () => t.fake.stored.length, { deadlineMs: 15_000 });
    expect(t.fake.stored).toHaveLength(1);
    if (!isRoot) expect(logOf(t.home)).toMatch(/could not be spooled \(EACCES\): sent directly/);
  });

  it("neither spool nor server: exit 0, silent, and the loss is logged", async () => {
    writeFileSync(t.spoolDir, "not a folder");
    await t.fake.stop();
    const r = await runBinary([], {
      stdin: JSON.stringify({ session_id: "lost", hook_event_name: "Stop" }),
      env: { ...env(), LOGBOOK_NO_BACKGROUND_FLUSH: undefined },
    });
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(logOf(t.home)).toMatch(/could not be spooled \((ENOTDIR|EEXIST)\): lost/);
  });
});

describe("temp files", () => {
  it("a failed write removes its partial temp file", () => {
    // A folder where the final name should be: the temp file is written, the rename fails.
    mkdirSync(join(t.spoolDir, "x.json"), { recursive: true });
    mkdirSync(join(t.spoolDir, "x.json", "inside"));
    expect(() => writeAtomic(t.spoolDir, "x.json", "{}")).toThrow();
    expect(readdirSync(join(t.spoolDir, "tmp"))).toEqual([]);
  });

  it("stale partial files in spool/tmp and rejected/tmp are cleaned; fresh ones (a write in progress) are not", () => {
    mkdirSync(join(t.spoolDir, "tmp"), { recursive: true });
    mkdirSync(join(t.spoolDir, "rejected", "tmp"), { recursive: true });
    const old = (Date.now() - STALE_TEMP_MS - 60_000) / 1000;
    for (const dir of [join(t.spoolDir, "tmp"), join(t.spoolDir, "rejected", "tmp")]) {
      writeFileSync(join(dir, "stale.tmp"), '{"id":');
      utimesSync(join(dir, "stale.tmp"), old, old);
      writeFileSync(join(dir, "fresh.tmp"), '{"id":');
    }
    expect(cleanStaleTemp(t.spoolDir)).toBe(2);
    expect(readdirSync(join(t.spoolDir, "tmp"))).toEqual(["fresh.tmp"]);
    expect(readdirSync(join(t.spoolDir, "rejected", "tmp"))).toEqual(["fresh.tmp"]);
  });
});

describe("spool entries that can never be sent are quarantined in rejected/ with a reason", () => {
  const target = () => ({ url: t.fake.url, apiKey: "k" });
  const reasonOf = (name: string) => readFileSync(join(t.spoolDir, "rejected", `${name}.reason`), "utf8");

  it("a folder named like an entry, a file whose id is not its name's, an unreadable file: set aside, the rest sent", async () => {
    const [first, , third] = spoolSome(3);
    const folder = `${uuidv7(Date.now() - 10)}.json`;
    mkdirSync(join(t.spoolDir, folder));
    const liar = `${uuidv7(Date.now() - 5)}.json`;
    const other = uuidv7();
    writeFileSync(join(t.spoolDir, liar), envelopeText(other, new Date().toISOString(), "m", '{"session_id":"s"}'));
    const unreadable = `${uuidv7(Date.now() - 2)}.json`;
    writeFileSync(
      join(t.spoolDir, unreadable),
      envelopeText(unreadable.slice(0, 36), new Date().toISOString(), "m", "{}"),
    );
    chmodSync(join(t.spoolDir, unreadable), 0o000);

    const result = await flushSpool(t.spoolDir, target(), { timeoutMs: 5_000 });
    expect(result.stop).toBe("empty");
    expect(result.remaining).toBe(0);
    expect(t.fake.stored).not.toContain(other);
    expect(t.fake.stored).toEqual(expect.arrayContaining([first, third]));
    expect(reasonOf(folder)).toMatch(/cannot be read \(EISDIR\)/);
    expect(reasonOf(liar)).toMatch(/its id is not the id in its name/);
    if (isRoot) {
      // root reads a mode-000 file: it is a good envelope and was sent
      expect(t.fake.stored).toContain(unreadable.slice(0, 36));
    } else {
      expect(reasonOf(unreadable)).toMatch(/cannot be read \(EACCES\)/);
    }
  });

  it("`logbook-hook flush` over such a spool exits 0 once, then 0 again (was: exit 1 every time, the entry resent)", async () => {
    spoolSome(2);
    mkdirSync(join(t.spoolDir, `${uuidv7(Date.now() - 10)}.json`));
    const first = await runBinary(["flush"], { env: env() });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/1 refused/);
    const again = await runBinary(["flush"], { env: env() });
    expect(again).toMatchObject({ code: 0 });
    expect(t.fake.received.filter((q) => q.path === "/trpc/hooks.ingest")).toHaveLength(1);
  });

  it("an entry that cannot even be set aside: the deliverer backs off between attempts and exits when idle (was: a busy loop, forever)", async () => {
    spoolSome(1);
    mkdirSync(join(t.spoolDir, `${uuidv7(Date.now() - 10)}.json`));
    writeFileSync(join(t.spoolDir, "rejected"), "a file where rejected/ should be");
    const logged: string[] = [];
    const cpu = process.cpuUsage();
    const result = await deliver(t.spoolDir, {
      idleMs: 1_500,
      maxRetryMs: 1_000,
      target: () => ({ url: t.fake.url, apiKey: "k" }),
      log: (level, message) => logged.push(`${level} ${message}`),
    });
    const used = process.cpuUsage(cpu);
    expect(result).toMatchObject({ end: "idle", accepted: 1, remaining: 1 });
    // Attempts are at least 0.5 s apart (0.5, 1, 1 s…) within ~1.5 s idle: a handful, never thousands.
    const attempts = logged.filter((line) => line.includes("could not be moved to rejected/")).length;
    expect(attempts).toBeGreaterThan(0);
    expect(attempts).toBeLessThanOrEqual(8);
    expect(logged.some((line) => /could not be sent or set aside; retrying/.test(line))).toBe(true);
    // Not a timing bound on the test: a busy loop would burn about as much CPU as it ran.
    expect((used.user + used.system) / 1000).toBeLessThan(1_000);
  });
});

describe("private files (0700 folders, 0600 files)", () => {
  it("a hook's first run creates $LOGBOOK_HOME, spool/, tmp/, rejected/ and logs/ private, and their files 0600", async () => {
    const fresh = join(t.home, "fresh");
    const withUmask = (stdin: string, extra: Record<string, string> = {}) =>
      runProcess("/bin/sh", ["-c", `umask 022; exec "$0" "$1"`, process.execPath, BINARY], {
        env: {
          ...env(extra),
          LOGBOOK_HOME: fresh,
          LOGBOOK_NO_BACKGROUND_FLUSH: "1",
          LOGBOOK_URL: "http://127.0.0.1:9",
        },
        stdin,
      });
    expect((await withUmask(JSON.stringify({ session_id: "p", hook_event_name: "Stop" }))).code).toBe(0);
    expect((await withUmask("not json")).code).toBe(0);
    for (const dir of [
      fresh,
      join(fresh, "spool"),
      join(fresh, "spool", "tmp"),
      join(fresh, "spool", "rejected"),
      join(fresh, "logs"),
    ])
      expect([dir, modeOf(dir).toString(8)]).toEqual([dir, "700"]);
    const files = [
      ...readdirSync(join(fresh, "spool"))
        .filter((n) => n.endsWith(".json") || n === ".offline")
        .map((n) => join(fresh, "spool", n)),
      ...readdirSync(join(fresh, "spool", "rejected"))
        .filter((n) => n !== "tmp")
        .map((n) => join(fresh, "spool", "rejected", n)),
      join(fresh, "logs", "hook.log"),
    ];
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) expect([file, modeOf(file).toString(8)]).toEqual([file, "600"]);
  });

  it("flush tightens what an older version left open: folders 0755 → 0700, files 0644 → 0600", async () => {
    const [id] = spoolSome(1);
    mkdirSync(join(t.spoolDir, "rejected"));
    writeFileSync(join(t.spoolDir, "rejected", "old.raw"), "x");
    mkdirSync(join(t.home, "logs"));
    writeFileSync(join(t.home, "logs", "hook.log"), "old line\n");
    writeFileSync(join(t.home, "credentials"), "{}");
    const open = [t.spoolDir, join(t.spoolDir, "tmp"), join(t.spoolDir, "rejected"), join(t.home, "logs")];
    const files = [
      join(t.spoolDir, `${id}.json`),
      join(t.spoolDir, "rejected", "old.raw"),
      join(t.home, "logs", "hook.log"),
      join(t.home, "credentials"),
    ];
    for (const dir of open) chmodSync(dir, 0o755);
    for (const file of files) chmodSync(file, 0o644);
    t.fake.respond = () => ({ status: 503 }); // keep the spool file, to see its mode
    await runBinary(["flush"], { env: env() });
    for (const dir of open) expect([dir, modeOf(dir).toString(8)]).toEqual([dir, "700"]);
    for (const file of files) expect([file, modeOf(file).toString(8)]).toEqual([file, "600"]);
  });
});
