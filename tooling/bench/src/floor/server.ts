/**
 * The floor of the `throughput` case: the least a server can do for one hook post and still
 * store it. Bare `node:http` and `pg` (no framework, no validation, no derived state): read
 * the body, parse it once, one prepared `INSERT` of one row into a table shaped like
 * `events` (its columns, defaults and indexes), answer `{}`. Run as its own process (`fork`),
 * like the Logbook server, with the same pool size.
 *
 * `synchronousCommit: "off"` is the peer's shape (SQLite WAL, `synchronous=NORMAL`): a commit
 * answers before its WAL is flushed, so a crash may lose the last events. Logbook must never
 * do that; it is here only as the second baseline.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import pg from "pg";
import { v7 as uuidv7 } from "uuid";

// Forked by the harness, which talks to us over the IPC channel: without one there is no one to answer.
const send = process.send?.bind(process);
if (!send) throw new Error("run by the bench harness (child_process.fork), not directly");

export interface FloorRequest {
  databaseUrl: string;
  synchronousCommit: "on" | "off";
  /** Connections in the pool (Logbook's default is 20). */
  poolMax: number;
  /** The table this floor writes (created like `events`); one per floor, so they do not share locks. */
  table: string;
  /**
   * The key a `GET` must carry (`authorization: Bearer …`): the floor of a trivial authorised
   * query answers a GET with the key's id after finding its hash in memory, 401 without it.
   */
  apiKey?: string;
}

export type FloorMessage = { ok: true; url: string } | { ok: false; error: string };

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function start(spec: FloorRequest): Promise<string> {
  if (!/^[a-z_]+$/.test(spec.table)) throw new Error(`bad table name ${spec.table}`);
  const pool = new pg.Pool({
    connectionString: spec.databaseUrl,
    max: spec.poolMax,
    options: `-c synchronous_commit=${spec.synchronousCommit}`,
  });
  await pool.query(`CREATE TABLE IF NOT EXISTS ${spec.table} (LIKE events INCLUDING DEFAULTS INCLUDING INDEXES)`);
  const insert = {
    name: `floor-insert-${spec.table}`,
    text: `INSERT INTO ${spec.table} (id, session_id, seq, event_type, source, level, tool_name, cwd, occurred_at, payload)
           VALUES ($1, $2, $3, $4, 'hook', 'info', $5, $6, now(), $7)`,
  };
  // External session id -> a uuid and its next seq, in memory: the floor has no sessions table.
  const sessions = new Map<string, { id: string; seq: number }>();

  const keys = new Map<string, string>();
  if (spec.apiKey) keys.set(sha256(spec.apiKey), "floor-key");

  const server = createServer((req, res) => {
    if (req.method === "GET") {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const id = bearer === undefined ? undefined : keys.get(sha256(bearer));
      if (id === undefined) res.writeHead(401).end();
      else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        res.writeHead(400).end();
        return;
      }
      const key = String(body.session_id);
      let session = sessions.get(key);
      if (!session) sessions.set(key, (session = { id: uuidv7(), seq: 0 }));
      const seq = ++session.seq;
      pool
        .query({
          ...insert,
          values: [uuidv7(), session.id, seq, body.hook_event_name, body.tool_name ?? null, body.cwd ?? null, text],
        })
        .then(
          () => res.writeHead(200, { "content-type": "application/json" }).end("{}"),
          (error: unknown) => res.writeHead(500).end(String(error)),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

process.once("message", (spec: FloorRequest) => {
  start(spec).then(
    (url) => send({ ok: true, url } satisfies FloorMessage),
    (error: unknown) =>
      send({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () =>
        process.exit(1),
      ),
  );
});
// Stops with the harness (the IPC channel closes when it exits or kills us).
process.on("disconnect", () => process.exit(0));
