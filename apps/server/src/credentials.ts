import { mkdir, readFile, rm, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";

/** What local tools (the hook emitter, the SDK in scripts) read to reach this server. */
export interface Credentials {
  apiKey: string;
  url: string;
}

export function credentialsPath(home: string): string {
  return join(home, "credentials");
}

/** Written owner-only (0600): it holds a secret. */
export async function writeCredentials(home: string, credentials: Credentials): Promise<string> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const path = credentialsPath(home);
  await writeFile(path, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // writeFile's mode applies only when it creates the file
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

export async function writeRuntimeInfo(home: string, info: RuntimeInfo): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const path = runtimePath(home);
  await writeFile(path, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // it holds the database password; writeFile's mode applies only to a new file
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
