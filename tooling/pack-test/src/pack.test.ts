/**
 * The published packages as a user gets them: every workspace package that is not private is
 * packed (`pnpm pack`, which turns `workspace:` and `catalog:` ranges into versions), the
 * tarballs are installed with plain npm into a scratch project in a temporary directory
 * (outside the workspace: nothing resolves from our node_modules), a client file is compiled
 * there with `tsc --strict --exactOptionalPropertyTypes`, and `npx logbook-server` from the
 * installed tarball starts its own PostgreSQL and answers `/health`. The compiled client and
 * `npx logbook-hook` then run against that server. Needs the registry for third-party
 * dependencies (npm's cache makes later runs fast).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { findFreePort } from "@logbook/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("../fixture/", import.meta.url));
const require = createRequire(import.meta.url);

/** What must be published; a package marked private by mistake fails the first test. */
const REQUIRED: Record<string, { bin?: string }> = {
  "@logbook/contracts": {},
  "@logbook/sdk": {},
  "@logbook/server": { bin: "logbook-server" },
  "@logbook/hook-emitter": { bin: "logbook-hook" },
  "@logbook/cli": { bin: "logbook" },
};
/** Workspace packages that stay private: nothing published may depend on them. */
const WORKSPACE_ONLY = /@logbook\/(api|core|db)\b/;

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a plain shell: PATH, HOME and the npm settings a machine may need
 * (registry, cache, proxies), without the `npm_*` variables pnpm sets for its scripts.
 */
function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = /^(PATH|HOME|TMPDIR|npm_config_(registry|cache)|(https?|no)_proxy)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (keep.test(key)) env[key] = value;
  return { ...env, ...extra };
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }) {
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? plainEnv(), stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

async function mustRun(command: string, args: string[], options: Parameters<typeof run>[2]): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

/** Every workspace package (apps, packages, tooling) that is not private. */
async function publishedPackages(): Promise<Array<{ dir: string; manifest: Manifest }>> {
  const found: Array<{ dir: string; manifest: Manifest }> = [];
  for (const group of ["apps", "packages", "tooling"]) {
    for (const entry of await readdir(join(ROOT, group), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(ROOT, group, entry.name);
      const manifest = await readJson<Manifest>(join(dir, "package.json")).catch(() => null);
      if (manifest && !manifest.private) found.push({ dir, manifest });
    }
  }
  return found;
}

let scratch: string;
let app: string;
let packed: Array<{ dir: string; manifest: Manifest }>;
let server: ChildProcess | null = null;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "logbook-pack-"));
  app = join(scratch, "app");
  const tarballs = join(scratch, "tarballs");
  await mkdir(app);
  packed = await publishedPackages();

  // pnpm as the repository pins it (packageManager), so its packing rules are the ones we ship.
  const { packageManager } = await readJson<{ packageManager: string }>(join(ROOT, "package.json"));
  for (const { dir } of packed) {
    await mustRun("npx", ["-y", packageManager, "pack", "--pack-destination", tarballs], { cwd: dir });
  }

  // The typescript and @types/node the workspace uses: already in npm's cache after one run.
  const typescript = (await readJson<Manifest>(require.resolve("typescript/package.json"))).version;
  const typesNode = (await readJson<Manifest>(require.resolve("@types/node/package.json"))).version;
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }));
  const files = (await readdir(tarballs)).map((file) => join(tarballs, file));
  await mustRun(
    "npm",
    ["install", "--no-audit", "--no-fund", ...files, `typescript@${typescript}`, `@types/node@${typesNode}`],
    { cwd: app },
  );
  await cp(FIXTURE, app, { recursive: true });
}, 600_000);

afterAll(async () => {
  await stopServer();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}, 600_000);

/**
 * Ctrl-C in a terminal: SIGINT to the whole process group (npm exec, its shell, the server,
 * PostgreSQL). npm exec does not pass a signal sent to it alone on to the server.
 */
async function stopServer(): Promise<void> {
  const child = server;
  server = null;
  if (!child?.pid || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("close", resolve));
  process.kill(-child.pid, "SIGINT");
  await exited;
  // The server stops its PostgreSQL before it exits; wait for the rest of the group too.
  const group = child.pid;
  await waitFor(`the server's process group ${group} to end`, () => !groupAlive(group), {
    deadlineMs: 60_000,
    everyMs: 100,
  });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the packed packages", () => {
  it("are the ones we publish, with versions instead of workspace ranges, depending only on published packages", async () => {
    const names = packed.map((p) => p.manifest.name);
    expect(names).toEqual(expect.arrayContaining(Object.keys(REQUIRED)));
    for (const name of names) {
      const installed = await readJson<Manifest>(join(app, "node_modules", name, "package.json"));
      const ranges = { ...installed.dependencies, ...installed.peerDependencies };
      expect(installed.private, name).toBeUndefined();
      expect(
        Object.values(ranges).filter((range) => /^(workspace|catalog):/.test(range)),
        name,
      ).toEqual([]);
      const internal = Object.keys(ranges).filter((dep) => dep.startsWith("@logbook/"));
      expect(
        internal.filter((dep) => !names.includes(dep)),
        name,
      ).toEqual([]);
      for (const bin of Object.keys(installed.bin ?? {})) {
        await mustRun(
          "node",
          ["-e", `require("fs").accessSync(${JSON.stringify(join(app, "node_modules/.bin", bin))})`],
          {
            cwd: app,
          },
        );
      }
    }
    for (const [name, { bin }] of Object.entries(REQUIRED)) {
      if (bin) expect(Object.keys(packed.find((p) => p.manifest.name === name)?.manifest.bin ?? {})).toContain(bin);
    }
  });

  it("give the SDK one declaration file that names no workspace-only package", async () => {
    const sdk = join(app, "node_modules/@logbook/sdk");
    const manifest = await readJson<{ exports: Record<string, { types?: string }> }>(join(sdk, "package.json"));
    const types = manifest.exports["."]?.types;
    expect(types).toBe("./dist/index.d.ts");
    const declarations = await readFile(join(sdk, expectDefined(types)), "utf8");
    expect(declarations).toContain("declare function createLogbookClient");
    expect(declarations.match(WORKSPACE_ONLY)).toBeNull();
  });

  it("compile a client under tsc --strict --exactOptionalPropertyTypes", async () => {
    const tsc = join(app, "node_modules/.bin/tsc");
    await mustRun(tsc, ["-p", ".", "--strict", "--exactOptionalPropertyTypes"], { cwd: app });
  });

  it("run: npx logbook-server answers /health, logbook-hook stores an event, the client and logbook read it back", async () => {
    const home = join(scratch, "home");
    const port = await findFreePort();
    const url = `http://127.0.0.1:${port}`;
    let log = "";
    // Its own process group, so stopServer() can signal everything it started.
    server = spawn("npx", ["--no", "logbook-server"], {
      cwd: app,
      env: plainEnv({ LOGBOOK_HOME: home, PORT: String(port), HOST: "127.0.0.1" }),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const started = server;
    started.stdout?.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
    started.stderr?.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));

    // The first start sets up PostgreSQL's data folder: generous, and it fails at once if the server exits.
    const health = await waitFor(
      "logbook-server to answer /health",
      async () => {
        if (started.exitCode !== null) throw new Error(`logbook-server exited ${started.exitCode}\n${log}`);
        const answer = await fetch(`${url}/health`).catch(() => null);
        return answer?.ok ? ((await answer.json()) as { status?: string; database?: { embedded?: boolean } }) : null;
      },
      { deadlineMs: 240_000, everyMs: 250 },
    );
    expect(health).toMatchObject({ status: "ok", database: { embedded: true } });

    // The dashboard ships inside the server package: its page, and the script that page loads.
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toContain("immutable");

    const credentials = await readJson<{ apiKey: string; url: string }>(join(home, "credentials"));
    const hookSessionId = `pack-hook-${process.pid}`;
    const payload = { session_id: hookSessionId, hook_event_name: "UserPromptSubmit", cwd: app, prompt: "hello" };
    await mustRun("npx", ["--no", "logbook-hook"], {
      cwd: app,
      env: plainEnv({ LOGBOOK_HOME: home, LOGBOOK_HOOK_DELIVERY: "direct" }),
      input: JSON.stringify(payload),
    });

    const output = await mustRun("node", ["out/client.js"], {
      cwd: app,
      env: plainEnv({
        LOGBOOK_URL: credentials.url,
        LOGBOOK_API_KEY: credentials.apiKey,
        HOOK_SESSION_ID: hookSessionId,
      }),
    });
    const seen = JSON.parse(output.trim().split("\n").at(-1) ?? "null") as Record<string, unknown>;
    expect(seen).toMatchObject({ accepted: 1, live: "live", missing: "NOT_FOUND 404" });
    expect(seen.hookEventTypes).toEqual(expect.arrayContaining([expect.stringMatching(/prompt/i)]));
    expect(seen.exported).toEqual({
      fileName: expect.stringMatching(/^pack-client-\d+\.md$/) as unknown,
      events: 2,
      hasLiveNote: true,
    });

    // The `logbook` command finds the server and key in $LOGBOOK_HOME/credentials.
    const listed = await mustRun("npx", ["--no", "logbook", "sessions", "--json"], {
      cwd: app,
      env: plainEnv({ LOGBOOK_HOME: home }),
    });
    const { sessions } = JSON.parse(listed) as { sessions: Array<{ externalId: string | null }> };
    expect(sessions.map((s) => s.externalId)).toContain(hookSessionId);
  });
});
