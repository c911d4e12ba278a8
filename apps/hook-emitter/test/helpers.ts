import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterEach, beforeEach } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BINARY = join(PACKAGE_ROOT, "dist", "logbook-hook.cjs");

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `logbook-hook` with plain `node`, as Claude Code would. */
export function runBinary(
  args: string[],
  options: { stdin?: string | Buffer; env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<RunResult> {
  const env: Record<string, string> = {};
  // NODE_EXTRA_CA_CERTS (set on some machines) makes every Node start parse a certificate
  // bundle, ~70 ms a run; the binary only ever talks plain http to the test servers.
  const defaults = { LOGBOOK_NO_BACKGROUND_FLUSH: "1", NODE_EXTRA_CA_CERTS: undefined };
  for (const [key, value] of Object.entries({ ...process.env, ...defaults, ...options.env })) {
    if (value !== undefined) env[key] = value;
  }
  return runProcess(process.execPath, [BINARY, ...args], {
    env,
    cwd: options.cwd ?? PACKAGE_ROOT,
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
  });
}

/** Runs `file` with exactly the environment `env` (nothing inherited), `stdin` piped in. */
export function runProcess(
  file: string,
  args: string[],
  options: { env: Record<string, string>; stdin?: string | Buffer; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.stdin ?? "");
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `logbook-${prefix}-`));
}

/** A port nothing listens on (bound then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as { port: number }).port;
  await new Promise((done) => server.close(done));
  return port;
}

export interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/**
 * A stand-in for the server that speaks only the emitter's tiny wire contract, for unit tests
 * of the spool mechanics. It is not the proof that the emitter works with Logbook: that is
 * test/e2e.test.ts, against the real server.
 */
export class FakeServer {
  readonly received: Received[] = [];
  /** Ids stored, in arrival order (a duplicate is not stored twice). */
  readonly stored: string[] = [];
  private readonly ids = new Set<string>();
  respond: (request: Received) => { status: number; body?: unknown } | undefined = () => undefined;
  /** Milliseconds to hold each request before handling it (a slow server). */
  delayMs = 0;
  /** While set, each request waits for it before it is handled (a server the test holds). */
  hold: Promise<void> | undefined;
  private server: Server | undefined;
  url = "";

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const request: Received = {
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        this.received.push(request);
        if (this.hold) void this.hold.then(() => this.answer(request, res));
        else if (this.delayMs > 0) setTimeout(() => this.answer(request, res), this.delayMs);
        else this.answer(request, res);
      });
    });
    await new Promise<void>((done) => expectDefined(this.server).listen(port, "127.0.0.1", done));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private answer(request: Received, res: ServerResponse): void {
    const answer = this.respond(request) ?? this.handle(request);
    res.writeHead(answer.status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(answer.body ?? {}));
  }

  /** Stores an id as the real server would (once). */
  store(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    this.stored.push(id);
    return true;
  }

  private handle(request: Received): { status: number; body?: unknown } {
    if (request.path === "/hooks/claude-code") {
      this.store(String(request.headers["x-logbook-event-id"]));
      return { status: 200, body: {} };
    }
    if (request.path === "/trpc/hooks.ingest") {
      const events = (JSON.parse(request.body) as { events: Array<{ id: string }> }).events;
      let accepted = 0;
      for (const event of events) if (this.store(event.id)) accepted++;
      return {
        status: 200,
        body: { result: { data: { accepted, duplicates: events.length - accepted, ids: events.map((e) => e.id) } } },
      };
    }
    return { status: 404, body: { error: { message: "not found" } } };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    this.server = undefined;
  }
}

/**
 * For each test of the file that calls this: a fresh stand-in server and an empty
 * `$LOGBOOK_HOME` (`home`, with `spoolDir` its spool). Read the fields inside tests.
 */
export function useFakeServerAndHome(prefix: string): { fake: FakeServer; home: string; spoolDir: string } {
  const state = {} as { fake: FakeServer; home: string; spoolDir: string };
  beforeEach(async () => {
    state.fake = new FakeServer();
    await state.fake.start();
    state.home = tempDir(prefix);
    state.spoolDir = join(state.home, "spool");
  });
  afterEach(() => state.fake.stop());
  return state;
}
