/**
 * Short names that stay distinct. Two projects in `~/client-a/app` and `~/client-b/app` are
 * both "app" by their last folder, and two models cut to their first 14 characters are both
 * "claude-sonnet-": a name shown to choose or compare by must tell them apart.
 */

function segments(path: string): string[] {
  return path.split(/[\\/]/).filter((p) => p !== "");
}

/** The last `count` segments of a path, with the path's own separator (`\` on Windows). */
function tail(path: string, count: number): string {
  const separator = path.includes("/") || !path.includes("\\") ? "/" : "\\";
  return segments(path).slice(-count).join(separator);
}

/**
 * A short name for each path (keyed by the path): its last segment, or where paths share it,
 * as many of the last segments as tell them apart ("client-a/app", "client-b/app"); the whole
 * path when even that does not ("/a/app" beside "/b/a/app").
 */
export function shortPathNames(paths: Iterable<string>): Map<string, string> {
  const names = new Map<string, string>();
  let pending = [...new Set(paths)];
  for (let count = 1; pending.length > 0; count++) {
    const byTail = new Map<string, string[]>();
    for (const path of pending) {
      if (segments(path).length < count) {
        names.set(path, path);
        continue;
      }
      const key = tail(path, count);
      byTail.set(key, [...(byTail.get(key) ?? []), path]);
    }
    pending = [];
    for (const [key, group] of byTail) {
      const [only] = group;
      if (group.length === 1 && only !== undefined) names.set(only, key);
      else pending.push(...group);
    }
  }
  return names;
}

/**
 * What each project is called where it is shown or chosen (keyed by id): its name (or last
 * folder), and where two share it, the distinctive end of its path too: "client-a/app", or
 * "web (client-a/app)" for a name that is not the folder's.
 */
export function projectNames(
  projects: ReadonlyArray<{ id: string; path: string; name: string | null }>,
): Map<string, string> {
  const named = projects.map((p) => ({ ...p, shown: p.name ?? tail(p.path, 1) }));
  const count = new Map<string, number>();
  for (const p of named) count.set(p.shown, (count.get(p.shown) ?? 0) + 1);
  const paths = shortPathNames(named.filter((p) => (count.get(p.shown) ?? 0) > 1).map((p) => p.path));
  return new Map(
    named.map((p) => {
      const where = paths.get(p.path);
      if (where === undefined) return [p.id, p.shown];
      return [p.id, p.shown === tail(p.path, 1) ? where : `${p.shown} (${where})`];
    }),
  );
}

/**
 * `text` cut to at most `max` characters in the middle ("claude-so…20250929"): the start says
 * what kind of thing it is, the end is what tells similar ones apart (a model's date, a path's
 * folder). Unchanged when it fits.
 */
export function middleEllipsis(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const head = Math.max(1, Math.floor((max - 1) * 0.4));
  return `${chars.slice(0, head).join("")}…${chars.slice(-(max - 1 - head)).join("")}`;
}

/**
 * Each label cut in the middle to `max` characters, longer where two would otherwise read the
 * same, so that no two different labels are shown alike.
 */
export function distinctShortLabels(labels: readonly string[], max: number): string[] {
  const widths = labels.map(() => max);
  for (;;) {
    const shown = labels.map((label, i) => middleEllipsis(label, widths[i] ?? max));
    const owners = new Map<string, Set<string>>();
    shown.forEach((s, i) => owners.set(s, (owners.get(s) ?? new Set()).add(labels[i] ?? "")));
    let grew = false;
    shown.forEach((s, i) => {
      const label = labels[i] ?? "";
      const width = widths[i] ?? max;
      if ((owners.get(s)?.size ?? 0) > 1 && [...label].length > width) {
        widths[i] = width + 1;
        grew = true;
      }
    });
    if (!grew) return shown;
  }
}
