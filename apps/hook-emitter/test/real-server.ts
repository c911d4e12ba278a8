import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { startTestServer, type TestServer } from "@logbook/server/testing";
import { afterAll, beforeAll } from "vitest";

/**
 * The real, built Logbook server (`@logbook/server/testing` runs `apps/server/dist/main.js` as
 * a child process) on a fresh real PostgreSQL database, for the file that calls this: started
 * before its tests, stopped after, with `env` added to the server's settings. Read `db` and
 * `server` inside tests.
 */
export function useRealServer(env: Record<string, string> = {}): {
  readonly db: TestDatabase;
  readonly server: TestServer;
} {
  const state = {} as { db: TestDatabase; server: TestServer };
  beforeAll(async () => {
    state.db = await createTestDatabase();
    state.server = await startTestServer({ databaseUrl: state.db.url, env });
  }, 180_000);
  afterAll(async () => {
    await state.server?.stop();
    await state.db?.destroy();
  });
  return state;
}
