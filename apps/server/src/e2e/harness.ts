/**
 * What every end-to-end test file needs: a private database, the built server running on
 * it as a child process, and SDK clients with the first-start key (ingest+read) and an
 * admin key. To wait for what has no event to await (a delivery, a stream's events, a row),
 * the tests use `waitFor` from `@logbook/vitest-config/wait-for`: a required deadline, and a
 * failure that names what it waited for and the last value seen. It lives there, not here,
 * so the hook emitter's tests share it.
 */
import { spawn } from "node:child_process";

import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { createLogbookClient, type LogbookClient, type LogbookClientOptions } from "@logbook/sdk";

import { SERVER_ENTRY, startTestServer, type StartTestServerOptions, type TestServer } from "../testing/index.js";

export interface Harness {
  db: TestDatabase;
  server: TestServer;
  /** The first-start key: ingest + read. */
  client: LogbookClient;
  admin: LogbookClient;
  adminKey: string;
  /** A client for `apiKey` on this server (retries off unless given). */
  clientFor(apiKey: string, options?: Partial<LogbookClientOptions>): LogbookClient;
  stop(): Promise<void>;
}

export async function startHarness(options: Omit<StartTestServerOptions, "databaseUrl"> = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const server = await startTestServer({ databaseUrl: db.url, ...options });
  const adminKey = await server.createKey(["admin"], "e2e-admin");
  const clientFor = (apiKey: string, more: Partial<LogbookClientOptions> = {}) =>
    createLogbookClient({ url: server.url, apiKey, retry: false, ...more });
  return {
    db,
    server,
    client: clientFor(server.apiKey),
    admin: clientFor(adminKey),
    adminKey,
    clientFor,
    async stop() {
      await server.stop();
      await db.destroy();
    },
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/**
 * Runs the built server with only `env` (and PORT 0) until it exits: for settings that must
 * stop the start. Returns its exit code and what it wrote to stderr.
 */
export function startRefused(
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVER_ENTRY], {
      env: { PORT: "0", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("close", (code) => resolve({ code, stderr }));
  });
}
