// A/B: spool path (server down, background mode, deliverer kept alive) of two builds vs node -e 0.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const [oldBin, newBin, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 80);
const payload = JSON.stringify({ session_id: "s", hook_event_name: "PreToolUse", tool_name: "Bash", tool_input: { command: "ls -la", description: "x".repeat(800) } });
const run = (args, env) => new Promise((resolve) => { const t = performance.now(); const c = spawn(process.execPath, args, { env, stdio: ["pipe", "ignore", "ignore"] }); c.on("exit", () => resolve(performance.now() - t)); c.stdin.on("error", () => {}); c.stdin.end(payload); });
const envOf = (home, extra = {}) => ({ PATH: process.env.PATH, HOME: process.env.HOME, LOGBOOK_HOME: home, LOGBOOK_URL: "http://127.0.0.1:1", LOGBOOK_API_KEY: "k", ...extra });
const cases = [
  ["node -e 0", ["-e", "0"], envOf(mkdtempSync(join(tmpdir(), "ab-")))],
  ["old", [oldBin], envOf(mkdtempSync(join(tmpdir(), "ab-")))],
  ["new", [newBin], envOf(mkdtempSync(join(tmpdir(), "ab-")))],
];
if (process.env.DIRECT) { cases.push(["old direct", [oldBin], envOf(mkdtempSync(join(tmpdir(), "ab-")), { LOGBOOK_HOOK_DELIVERY: "direct", LOGBOOK_NO_BACKGROUND_FLUSH: "1" })]); cases.push(["new direct", [newBin], envOf(mkdtempSync(join(tmpdir(), "ab-")), { LOGBOOK_HOOK_DELIVERY: "direct", LOGBOOK_NO_BACKGROUND_FLUSH: "1" })]); }
const t = cases.map(() => []);
for (let i = 0; i < runs + 3; i++) for (const [k, c] of cases.entries()) { const ms = await run(c[1], c[2]); if (i >= 3) t[k].push(ms); }
const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.ceil(p * s.length) - 1]; };
for (const [k, c] of cases.entries()) console.log(c[0].padEnd(12), "p50", q(t[k], 0.5).toFixed(2), "p90", q(t[k], 0.9).toFixed(2), "ratio p50", (q(t[k], 0.5) / q(t[0], 0.5)).toFixed(3));
for (const c of cases) { try { process.kill(JSON.parse(readFileSync(join(c[2].LOGBOOK_HOME, "spool", ".deliver.lock"), "utf8")).pid); } catch {} }
