import { chmodSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** Where Claude Code keeps the settings `install` edits. */
export function settingsPath(scope: { project?: boolean; settings?: string }, claudeConfigDir: string): string {
  if (scope.settings !== undefined) return resolve(scope.settings);
  if (scope.project === true) return resolve(".claude", "settings.json");
  return join(claudeConfigDir, "settings.json");
}

export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Replaces a file atomically (temp file beside it, then rename), keeping its mode. A symlink
 * (dotfile managers) is followed, so the link stays and its target changes.
 */
export function writeFileAtomic(path: string, text: string, mode?: number): void {
  let target = path;
  try {
    target = realpathSync(path);
  } catch {
    // does not exist yet
  }
  // Folders we create (~/.claude, $LOGBOOK_HOME) are private; an existing one is left as it is.
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  let keepMode = mode;
  try {
    keepMode ??= statSync(target).mode & 0o7777;
  } catch {
    keepMode ??= 0o600; // a new file: private, like everything we create
  }
  const tmp = `${target}.logbook-${process.pid}.tmp`;
  writeFileSync(tmp, text, keepMode === undefined ? undefined : { mode: keepMode });
  if (keepMode !== undefined) chmodSync(tmp, keepMode);
  renameSync(tmp, target);
}
