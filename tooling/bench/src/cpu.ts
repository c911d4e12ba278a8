import { readFile } from "node:fs/promises";

import type pg from "pg";

/** Linux's USER_HZ: the unit of the CPU times in /proc/<pid>/stat (100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used, from /proc (Linux); null elsewhere or when it is gone. */
async function cpuSecondsOf(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

interface Snapshot {
  postgres: Map<number, number>;
  server: number | null;
  harness: number;
}

/** Where a phase's CPU went: the database's backends, the server process, this process (the clients). */
export interface CpuSplit {
  postgres: number;
  server: number;
  harness: number;
}

/**
 * CPU used during a phase by the PostgreSQL backends connected to the bench's database (the
 * server's pool, the COPY clients), the server and the harness, so a rate measured on a shared
 * machine can be read as CPU per event, which the load hardly moves. A backend that ends
 * during the phase is not counted (the pools keep theirs under load).
 */
export class CpuMeter {
  private start: Snapshot | null = null;

  constructor(
    private readonly db: pg.Client,
    private readonly serverPid: () => number | undefined,
  ) {}

  private async snapshot(): Promise<Snapshot> {
    const { rows } = await this.db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    const postgres = new Map<number, number>();
    for (const { pid } of rows) {
      const seconds = await cpuSecondsOf(pid);
      if (seconds !== null) postgres.set(pid, seconds);
    }
    const pid = this.serverPid();
    const usage = process.cpuUsage();
    return {
      postgres,
      server: pid === undefined ? null : await cpuSecondsOf(pid),
      harness: (usage.user + usage.system) / 1e6,
    };
  }

  async begin(): Promise<void> {
    this.start = await this.snapshot();
  }

  /** CPU seconds since `begin`; a backend that started meanwhile counts from zero. */
  async end(): Promise<CpuSplit> {
    const start = this.start;
    if (start === null) throw new Error("CpuMeter.end without begin");
    const now = await this.snapshot();
    let postgres = 0;
    for (const [pid, seconds] of now.postgres) postgres += seconds - (start.postgres.get(pid) ?? 0);
    return {
      postgres,
      server: now.server === null || start.server === null ? 0 : now.server - start.server,
      harness: now.harness - start.harness,
    };
  }
}
