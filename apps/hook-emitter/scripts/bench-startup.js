#!/usr/bin/env node
// Start-up cost of `logbook-hook` (recording one event) against a bare `node -e 0`.
// Runs the commands interleaved (A B C A B C …) so load drift on a shared machine hits all
// of them alike, and reports medians. Usage:
//   node scripts/bench-startup.js [runs]           server-down (spool) path only
//   LOGBOOK_URL=… LOGBOOK_API_KEY=… node scripts/bench-startup.js [runs]   also the server-up path
// Build first (npx tsup). An empty ESM file is shown too: Node's ESM loader alone costs part
// of the difference to `node -e 0`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const runs = Number(process.argv[2] ?? 60);
const binary = fileURLToPath(new URL("../dist/logbook-hook.cjs", import.meta.url));
const payload = JSON.stringify({
  session_id: "bench-session",
  transcript_path: "/tmp/t.jsonl",
  cwd: "/tmp",
  permission_mode: "default",
  hook_event_name: "PreToolUse",
  tool_name: "Bash",
  tool_input: { command: "ls -la", description: "List files" },
  tool_use_id: "toolu_01",
});

const free = await new Promise((resolve) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

const downHome = mkdtempSync(join(tmpdir(), "logbook-bench-down-"));
const upHome = mkdtempSync(join(tmpdir(), "logbook-bench-up-"));
const emptyEsm = join(downHome, "empty.mjs");
writeFileSync(emptyEsm, "");
const cases = [
  { name: "node -e 0", args: ["-e", "0"], env: {} },
  { name: "node empty.mjs", args: [emptyEsm], env: {} },
  {
    name: "logbook-hook, server down (spool)",
    args: [binary],
    env: { LOGBOOK_HOME: downHome, LOGBOOK_URL: `http://127.0.0.1:${free}`, LOGBOOK_API_KEY: "lbk_bench" },
  },
];
if (process.env.LOGBOOK_URL && process.env.LOGBOOK_API_KEY) {
  cases.push({ name: "logbook-hook, server up", args: [binary], env: { LOGBOOK_HOME: upHome } });
}

const times = cases.map(() => []);
for (let i = 0; i < runs + 5; i++) {
  cases.forEach((c, index) => {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, c.args, {
      input: payload,
      env: { ...process.env, LOGBOOK_NO_BACKGROUND_FLUSH: "1", ...c.env },
      stdio: ["pipe", "ignore", "ignore"],
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) throw new Error(`${c.name} exited ${result.status}`);
    if (i >= 5) times[index].push(ms); // first rounds warm the disk cache
  });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const base = median(times[0]);
for (const [index, c] of cases.entries()) {
  const m = median(times[index]);
  const min = Math.min(...times[index]);
  console.log(
    `${c.name.padEnd(36)} median ${m.toFixed(1).padStart(6)} ms  min ${min.toFixed(1).padStart(6)} ms  ${(m / base).toFixed(2)}x`,
  );
}
rmSync(downHome, { recursive: true, force: true });
rmSync(upHome, { recursive: true, force: true });
