import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { stopLockHolder } from "./lock.js";
import { PRIVATE_DIR_MODE, safeUnlink, writeAtomic } from "./spool.js";
import type { PlannerState } from "./transcript.js";

/**
 * What `logbook-hook sync` remembers, under `$LOGBOOK_HOME/sync/` (folders 0700, files 0600,
 * written atomically: temp file, then rename):
 *
 * - `settings.json` — `{"follow": true, "paths": [...], "claudeConfigDirs": [...]}`, written by
 *   `install`: whether the deliverer starts a follower, folders to follow besides Claude
 *   Code's `projects/`, and the Claude Code configuration folders installed with sync.
 * - `files/<dev>-<inode>.json` — one per transcript file: how far it was sent (`offset`, the
 *   byte after the last complete line stored; `line`, lines read), a digest of its first bytes
 *   (a file rewritten in place under the same inode is read again from the start), and the
 *   planner's state at that offset, so the next line gets the id, session and time `import`
 *   gives it. Keyed by inode, not name: a file renamed (rotated) keeps its offset.
 * - `.follow.lock` — held by the one follower (`sync --follow`) while it runs.
 */

export const FOLLOW_LOCK_FILE = ".follow.lock";
const SETTINGS_FILE = "settings.json";

export interface SyncSettings {
  /** The deliverer starts `sync --follow` when none runs. */
  follow: boolean;
  /** Folders or files to follow besides `$CLAUDE_CONFIG_DIR/projects`. */
  paths: string[];
  /**
   * The Claude Code configuration folders (`$CLAUDE_CONFIG_DIR`, absolute) installed with
   * sync: each one's `projects/` is followed, whichever of them the follower was started
   * from, and an uninstall takes out only its own. Sync is on while one is left. Null in a
   * file an older install wrote, which did not record them.
   */
  claudeConfigDirs: string[] | null;
}

export interface FileState {
  path: string;
  dev: number;
  ino: number;
  /** The byte after the last line sent (or skipped as malformed). */
  offset: number;
  /** Lines read up to `offset` (for `file:line` in reports). */
  line: number;
  /** SHA-1 (hex) of the file's first `min(offset, HEAD_BYTES)` bytes. */
  head: string;
  planner: PlannerState;
  updatedAt: string;
}

/** How much of a file's start its digest covers. */
export const HEAD_BYTES = 4096;

export function fileKey(dev: number, ino: number): string {
  return `${dev}-${ino}`;
}

export function readSyncSettings(syncDir: string): SyncSettings {
  try {
    const raw = JSON.parse(readFileSync(join(syncDir, SETTINGS_FILE), "utf8")) as Partial<SyncSettings>;
    return {
      follow: raw.follow === true,
      paths: pathList(raw.paths),
      // Absent in files an older install wrote: their `follow` alone says whether sync is on.
      claudeConfigDirs: Array.isArray(raw.claudeConfigDirs) ? pathList(raw.claudeConfigDirs) : null,
    };
  } catch {
    // Never installed (or unreadable): no follower. A test's or a CI's home must not start
    // reading the machine's real transcripts because a deliverer ran there.
    return { follow: false, paths: [], claudeConfigDirs: [] };
  }
}

const pathList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((p): p is string => typeof p === "string" && p !== "") : [];

export function writeSyncSettings(syncDir: string, settings: SyncSettings & { claudeConfigDirs: string[] }): void {
  mkdirSync(syncDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  writeAtomic(syncDir, SETTINGS_FILE, `${JSON.stringify(settings, null, 2)}\n`);
}

const filesDir = (syncDir: string) => join(syncDir, "files");

/** Every remembered file, by key; a state file that cannot be read is dropped (its file is read again). */
export function loadFileStates(syncDir: string): Map<string, FileState> {
  const states = new Map<string, FileState>();
  let names: string[];
  try {
    names = readdirSync(filesDir(syncDir));
  } catch {
    return states;
  }
  for (const name of names) {
    if (!name.endsWith(".json")) continue;
    try {
      const state = JSON.parse(readFileSync(join(filesDir(syncDir), name), "utf8")) as FileState;
      if (typeof state.offset === "number" && typeof state.path === "string" && state.planner !== undefined)
        states.set(fileKey(state.dev, state.ino), state);
    } catch {
      safeUnlink(join(filesDir(syncDir), name));
    }
  }
  return states;
}

export function saveFileState(syncDir: string, state: FileState): void {
  mkdirSync(filesDir(syncDir), { recursive: true, mode: PRIVATE_DIR_MODE });
  writeAtomic(filesDir(syncDir), `${fileKey(state.dev, state.ino)}.json`, JSON.stringify(state));
}

export function forgetFileState(syncDir: string, key: string): void {
  safeUnlink(join(filesDir(syncDir), `${key}.json`));
}

/** Asks the follower running for `syncDir`, if any, to stop (SIGTERM); true when there was one. */
export function stopFollower(syncDir: string): boolean {
  return stopLockHolder(syncDir, FOLLOW_LOCK_FILE);
}
