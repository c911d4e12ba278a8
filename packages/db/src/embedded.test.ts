import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startEmbeddedPostgres } from "./embedded.js";

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.end();
  }
}

const launcher = fileURLToPath(new URL("./embedded.ts", import.meta.url));

/** Starts the launcher in another Node process and waits until it has printed its URL. */
function startInChild(dataDir: string): Promise<{ url: string; kill: () => Promise<void> }> {
  const script = `import { startEmbeddedPostgres } from ${JSON.stringify(launcher)};
    const handle = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
    console.log(handle.connectionString);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    const kill = async () => {
      child.kill("SIGKILL");
      await exited;
    };
    child.stdout.once("data", (chunk: Buffer) => resolve({ url: chunk.toString().trim(), kill }));
    child.once("exit", (code) => reject(new Error(`launcher exited with ${code}`)));
  });
}

/** The embedded PostgreSQL: first start, reuse, and recovery from a crashed earlier run. */
describe("startEmbeddedPostgres", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "logbook-embedded-test-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("creates a cluster, keeps its data across restarts, and ignores a stale pid file", async () => {
    const dataDir = join(dir, "reuse", "pg");
    const first = await startEmbeddedPostgres({ dataDir });
    await query(first.connectionString, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)");
    await first.stop();

    // A crash leaves postmaster.pid behind, naming a process that is gone.
    await writeFile(join(dataDir, "postmaster.pid"), "999999\n" + dataDir + "\n1700000000\n5432\n");
    const second = await startEmbeddedPostgres({ dataDir });
    try {
      expect(await query(second.connectionString, "SELECT x FROM kept")).toEqual([{ x: 42 }]);
    } finally {
      await second.stop();
    }
  });

  it("stops a PostgreSQL orphaned by a killed parent, refuses one still in use, and starts", async () => {
    const dataDir = join(dir, "orphan", "pg");
    const owner = await startInChild(dataDir);
    const postmasterPid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);

    // While its Node parent lives, the directory is in use: a second start must not steal it.
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(/in use by another process/);
    expect(await query(owner.url, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);

    await owner.kill(); // the parent dies without stopping PostgreSQL
    const recovered = await startEmbeddedPostgres({ dataDir });
    try {
      expect(await query(recovered.connectionString, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
      const newPid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
      expect(newPid).not.toBe(postmasterPid);
    } finally {
      await recovered.stop();
    }
  });
});
