import { startTestServer, type StartTestServerOptions, type TestServer } from "@logbook/server/testing";

/**
 * The built server (`apps/server/dist/main.js`) as a child process, quiet, with the
 * schedules the suites do not exercise turned off. Logs stay available through `logs()`.
 */
export async function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
  options: Partial<StartTestServerOptions> = {},
): Promise<TestServer> {
  return startTestServer({
    databaseUrl,
    // The auth and hostile suites send hundreds of refused keys from one address to check
    // each refusal: the auth throttle (probed by the hardening suite) would answer 429.
    env: { LOG_LEVEL: "warn", RETENTION_INTERVAL_MS: "0", AUTH_FAILURE_LIMIT: "0", ...env },
    ...options,
  });
}

/** Creates a key with the given scopes through the server's own CLI. */
export async function keyWith(
  server: TestServer,
  scopes: Array<"ingest" | "read" | "admin">,
  name = "reliability",
): Promise<string> {
  return server.createKey(scopes, name);
}
