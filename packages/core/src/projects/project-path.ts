import { invalidInput } from "../errors.js";

interface Segment {
  /** The separator written before this segment, kept as given (`/` or `\`). */
  sep: string;
  name: string;
}

/**
 * Resolves `.` and `..` segments lexically (like `path.normalize`; symlinks are not
 * followed: the path need not exist on this machine) and drops empty ones. `..` never
 * climbs above `floor` segments (the root, or a UNC server and share).
 */
function resolveSegments(rest: string, separators: RegExp, floor: number): Segment[] {
  const out: Segment[] = [];
  for (const match of rest.matchAll(separators)) {
    const sep = match[1] ?? "";
    const name = match[2] ?? "";
    if (name === "" || name === ".") continue;
    if (name === "..") {
      if (out.length > floor) out.pop();
      continue;
    }
    out.push({ sep: sep.charAt(0), name });
  }
  return out;
}

const join = (segments: Segment[]): string => segments.map((s, i) => (i === 0 ? "" : s.sep) + s.name).join("");

const WINDOWS_DRIVE = /^([A-Za-z]:)([\\/])/;
const UNC = /^[\\/]{2}[^\\/]/;

/**
 * The one spelling of a project path under which it is stored (projects.path is unique).
 *
 * - Trimmed; duplicate separators collapsed; a trailing separator dropped except on a root.
 * - `.` segments removed and `..` segments resolved lexically (`/a/b/../c` is `/a/c`).
 * - POSIX paths use `/` only (a backslash is a legal file-name character there).
 * - Windows paths stay usable: a drive path (`C:\work\app`, `C:/work/app`) or a UNC
 *   path (`\\server\share\app`) keeps its separators as given; both `\` and `/` separate.
 * - A relative path (`app`, `./app`, `~/app`, `C:app`) is INVALID_INPUT: a project is
 *   identified by where it lives, and a relative path means nothing on the server.
 */
export function canonicalProjectPath(path: string): string {
  const trimmed = path.trim();
  if (trimmed === "") throw invalidInput("project path must not be empty");
  if (trimmed.includes("\u0000")) throw invalidInput("project path must not contain NUL characters");

  const drive = WINDOWS_DRIVE.exec(trimmed);
  if (drive) {
    const [, letter = "", root = ""] = drive;
    const segments = resolveSegments(trimmed.slice(letter.length), /([\\/]+)([^\\/]*)/g, 0);
    return letter + root + join(segments);
  }
  if (UNC.test(trimmed)) {
    const prefix = trimmed.slice(0, 2);
    const segments = resolveSegments(trimmed.slice(1), /([\\/]+)([^\\/]*)/g, 2);
    if (segments.length < 2) {
      throw invalidInput(`project path "${trimmed}" is an incomplete UNC path: expected \\\\server\\share\\...`);
    }
    return prefix + join(segments);
  }
  if (trimmed.startsWith("/")) {
    return "/" + join(resolveSegments(trimmed, /(\/+)([^/]*)/g, 0));
  }
  throw invalidInput(
    `project path "${trimmed}" is relative: give an absolute path (e.g. /home/me/app or C:\\work\\app)`,
    { path: trimmed },
  );
}

/** A project's name when nobody gave one: the last segment of its path (`/home/me/app` -> `app`). */
export function projectNameOf(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).at(-1) ?? path;
}
