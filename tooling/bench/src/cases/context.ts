import type { TestServer } from "@logbook/server/testing";

import type { BenchDatabase } from "../database.js";
import type { RssSampler } from "../memory.js";
import type { BenchOptions } from "../options.js";

/** What every case gets: the run's options, database, server and RSS sampler. */
export interface BenchContext {
  options: BenchOptions;
  db: BenchDatabase;
  server: TestServer;
  adminKey: string;
  rss: RssSampler;
  log: (line: string) => void;
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
export const ms = (n: number) => `${fmt(n, 2)} ms`;
