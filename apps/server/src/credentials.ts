import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * Replaces `path` with `text` in one step: written to a new file beside it, created
 * exclusively (O_EXCL: never an existing file, never through a symlink someone left there)
 * and owner-only from its first byte, flushed, then renamed over `path`. A reader (the hook
 * emitter, a test harness, another process) sees the old file whole or the new one whole,
 * never an empty or half-written one, which rewriting in place (truncate, then write) let it
 * see. A crash leaves at most a stray `.tmp-…` file, never a damaged `path`.
 */
async function replaceFile(home: string, path: string, text: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  const file = await open(temporary, "wx", 0o600);
  try {
    await file.writeFile(text, "utf8");
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await file.close();
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** What local tools (the hook emitter, the SDK in scripts) read to reach this server. */
export interface Credentials {
  apiKey: string;
  url: string;
}

export function credentialsPath(home: string): string {
  return join(home, "credentials");
}

/** Written owner-only (0600): it holds a secret. Replaced whole, never rewritten in place. */
export async function writeCredentials(home: string, credentials: Credentials): Promise<string> {
  const path = credentialsPath(home);
  await replaceFile(home, path, `${JSON.stringify(credentials, null, 2)}\n`);
  return path;
}

export async function readCredentials(home: string): Promise<Credentials | null> {
  try {
    const parsed = JSON.parse(await readFile(credentialsPath(home), "utf8")) as Partial<Credentials>;
    return typeof parsed.apiKey === "string" && typeof parsed.url === "string"
      ? { apiKey: parsed.apiKey, url: parsed.url }
      : null;
  } catch {
    return null;
  }
}

/** Updates the URL in an existing credentials file (the port may change between starts). */
export async function updateCredentialsUrl(home: string, url: string): Promise<boolean> {
  const current = await readCredentials(home);
  if (!current || current.url === url) return false;
  await writeCredentials(home, { ...current, url });
  return true;
}

/**
 * While a server runs on the embedded PostgreSQL, `$LOGBOOK_HOME/server.json` says where
 * that database is, so `logbook-server keys …` and `migrate` connect to it instead of
 * starting a second PostgreSQL on the same data directory.
 */
export interface RuntimeInfo {
  pid: number;
  url: string;
  embeddedDatabaseUrl?: string;
}

export function runtimePath(home: string): string {
  return join(home, "server.json");
}

/** Owner-only (0600): it holds the database password. Replaced whole, like the credentials. */
export async function writeRuntimeInfo(home: string, info: RuntimeInfo): Promise<void> {
  await replaceFile(home, runtimePath(home), `${JSON.stringify(info, null, 2)}\n`);
}

export async function removeRuntimeInfo(home: string, pid: number): Promise<void> {
  const current = await readRuntimeInfo(home);
  if (current && current.pid === pid) await rm(runtimePath(home), { force: true });
}

export async function readRuntimeInfo(home: string): Promise<RuntimeInfo | null> {
  try {
    const parsed = JSON.parse(await readFile(runtimePath(home), "utf8")) as RuntimeInfo;
    return typeof parsed.pid === "number" ? parsed : null;
  } catch {
    return null;
  }
}
