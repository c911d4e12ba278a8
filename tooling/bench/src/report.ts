import { mkdir, writeFile } from "node:fs/promises";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

export interface ResultRow {
  case: string;
  what: string;
  baseline: string;
  measured: string;
  /** The figure compared with the target (a ratio or a percentile). */
  figure: string;
  target: string;
  /** null: not measured (the case failed or was skipped). */
  met: boolean | null;
  details?: unknown;
}

export function machineInfo() {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? "?",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

export function printTable(rows: ResultRow[]): void {
  const header = ["what", "baseline", "measured", "ratio / percentile", "target", "met?"];
  const body = rows.map((r) => [
    r.what,
    r.baseline,
    r.measured,
    r.figure,
    r.target,
    r.met === null ? "n/a" : r.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...body.map((b) => expectDefined(b[i]).length))));
  const line = (cells: string[]) => "| " + cells.map((c, i) => pad(c, expectDefined(widths[i]))).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const b of body) console.log(line(b));
}

/** Writes `bench-results/<iso-time>.json` at the repository root; returns its path. */
export async function writeReport(root: string, report: unknown): Promise<string> {
  const dir = join(root, "bench-results");
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().replace(/:/g, "-")}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + "\n");
  return file;
}
