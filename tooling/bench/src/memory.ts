import { readFile } from "node:fs/promises";

/** Resident set size of a process in MB, from /proc (Linux); null elsewhere or when it is gone. */
export async function rssMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `intervalMs` while phases run; keeps the peak of each phase. */
export class RssSampler {
  readonly peaks: Record<string, number> = {};
  private timer: NodeJS.Timeout | null = null;
  private phase: string | null = null;

  constructor(
    private readonly pid: () => number | undefined,
    private readonly intervalMs = 200,
  ) {}

  start(phase: string): void {
    this.stop();
    this.phase = phase;
    const sample = async () => {
      const pid = this.pid();
      if (pid === undefined || this.phase === null) return;
      const mb = await rssMb(pid);
      if (mb !== null && this.phase !== null) this.peaks[this.phase] = Math.max(this.peaks[this.phase] ?? 0, mb);
    };
    void sample();
    this.timer = setInterval(() => void sample(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.phase = null;
  }
}
