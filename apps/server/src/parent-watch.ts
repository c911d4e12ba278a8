import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

interface Ancestor {
  pid: number;
  /** Distinguishes the process from a later one that gets the same pid. */
  identity: string;
}

/** Parent pid and start time from /proc (Linux), or from `ps` elsewhere; null when the process is gone. */
function describe(pid: number): { ppid: number; identity: string } | null {
  try {
    if (process.platform === "linux") {
      // "pid (comm) state ppid … starttime(22nd field) …"; comm may hold spaces: split after ")".
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return { ppid: Number(fields[1]), identity: fields[19] ?? "" };
    }
    const out = execFileSync("ps", ["-o", "ppid=,lstart=", "-p", String(pid)], { encoding: "utf8" }).trim();
    if (!out) return null;
    const [ppid = "", ...start] = out.split(/\s+/);
    return { ppid: Number(ppid), identity: start.join(" ") };
  } catch {
    return null;
  }
}

function ancestors(): Ancestor[] {
  const chain: Ancestor[] = [];
  for (let pid = process.ppid; pid > 1 && chain.length < 64;) {
    const info = describe(pid);
    if (!info) break;
    chain.push({ pid, identity: info.identity });
    pid = info.ppid;
  }
  return chain;
}

/**
 * Calls `onGone` once when a process that started us (npx, pnpm, the shell running the
 * script) has ended. `pnpm start` runs the server under `npm exec` → `pnpm` → `sh`, and a
 * SIGTERM to the outer one ends it without passing the signal down: the server would keep
 * running, orphaned, with its PostgreSQL. Checked every `intervalMs` on an unref'd timer.
 * Returns a function that stops watching.
 */
export function watchParents(onGone: (pid: number) => void, intervalMs = 500): () => void {
  const watched = ancestors();
  const timer = setInterval(() => {
    for (const ancestor of watched) {
      if (describe(ancestor.pid)?.identity !== ancestor.identity) {
        clearInterval(timer);
        onGone(ancestor.pid);
        return;
      }
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
