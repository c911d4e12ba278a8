import { chmodSync, lstatSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";

import type { EmitterConfig } from "./config.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "./spool.js";

/**
 * Makes what an older version (or a loose umask) left readable by others private again: the
 * spool, `rejected/`, the temp folders and the log folder 0700; spooled and rejected events,
 * locks, logs and `credentials` 0600. A spooled event holds prompts and tool output.
 *
 * `$LOGBOOK_HOME` itself is left as it is (it may be a folder the person chose for more than
 * this); nothing in it can be read once its contents are private. Symbolic links are not
 * followed, and what belongs to another user is skipped (chmod is refused). Run by `flush`
 * and `deliver` at start, never by a hook (it reads every spool file's mode). Returns how many
 * modes it changed.
 */
export function tightenPermissions(config: Pick<EmitterConfig, "spoolDir" | "logFile" | "credentialsFile">): number {
  let changed = 0;
  const tighten = (path: string, mode: number): boolean => {
    try {
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) return false;
      if (stat.isDirectory() && (stat.mode & 0o777) !== PRIVATE_DIR_MODE && (stat.mode & 0o077) !== 0) {
        chmodSync(path, PRIVATE_DIR_MODE);
        changed++;
      } else if (stat.isFile() && (stat.mode & 0o077) !== 0) {
        chmodSync(path, mode);
        changed++;
      }
      return stat.isDirectory();
    } catch {
      return false; // not there, or not ours
    }
  };
  const tree = (dir: string, depth: number) => {
    if (!tighten(dir, PRIVATE_FILE_MODE) || depth === 0) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      // A folder named like a spool entry is quarantined by the flush, not entered here.
      if (!tighten(path, PRIVATE_FILE_MODE)) continue;
      if (name === "tmp" || name === "rejected") tree(path, depth - 1);
    }
  };
  tree(config.spoolDir, 2); // spool/, spool/tmp, spool/rejected, spool/rejected/tmp
  tree(dirname(config.logFile), 0);
  for (const name of safeList(dirname(config.logFile))) tighten(join(dirname(config.logFile), name), PRIVATE_FILE_MODE);
  tighten(config.credentialsFile, PRIVATE_FILE_MODE);
  return changed;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
