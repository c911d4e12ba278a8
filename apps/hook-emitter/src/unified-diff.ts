/**
 * A unified diff of two small texts (settings files), for `install --dry-run`. Hand-written
 * rather than a diff library because everything in the one bundled file is parsed on every
 * hook run, and a library would double the file for a feature a hook never uses.
 */
export function unifiedDiff(path: string, before: string, after: string, context = 3): string {
  const a = splitLines(before);
  const b = splitLines(after);
  // Longest common subsequence table, from the end (fine for files of a few thousand lines).
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  // Every (i, j) asked for is inside the table; the last row and column stay 0.
  const cell = (i: number, j: number): number => lcs[i * width + j] ?? 0;
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? cell(i + 1, j + 1) + 1 : Math.max(cell(i + 1, j), cell(i, j + 1));
    }
  }
  type Op = { kind: " " | "-" | "+"; text: string; aBefore: number; bBefore: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  // Past the end of a list its line is undefined, so the loop ends when both are.
  for (let ai = a[i], bj = b[j]; ai !== undefined || bj !== undefined; ai = a[i], bj = b[j]) {
    const at = { aBefore: i, bBefore: j };
    if (ai !== undefined && ai === bj) {
      ops.push({ kind: " ", text: ai, ...at });
      i++;
      j++;
    } else if (bj !== undefined && (ai === undefined || cell(i, j + 1) >= cell(i + 1, j))) {
      ops.push({ kind: "+", text: bj, ...at });
      j++;
    } else if (ai !== undefined) {
      ops.push({ kind: "-", text: ai, ...at });
      i++;
    }
  }
  const out = [`--- ${path}`, `+++ ${path}`];
  let index = 0;
  for (;;) {
    const firstChange = ops.findIndex((op, k) => k >= index && op.kind !== " ");
    if (firstChange < 0) break;
    const start = Math.max(index, firstChange - context);
    let lastChange = firstChange;
    for (let k = firstChange; k < ops.length; k++) {
      if (ops[k]?.kind !== " ") lastChange = k;
      else if (k - lastChange > 2 * context) break;
    }
    const stop = Math.min(ops.length, lastChange + context + 1);
    const hunk = ops.slice(start, stop);
    const aCount = hunk.filter((op) => op.kind !== "+").length;
    const bCount = hunk.filter((op) => op.kind !== "-").length;
    // Unified-diff convention: a range of 0 lines names the line before it.
    const [first] = hunk;
    if (!first) break; // never: the hunk holds at least firstChange
    const aFrom = first.aBefore + (aCount === 0 ? 0 : 1);
    const bFrom = first.bBefore + (bCount === 0 ? 0 : 1);
    out.push(`@@ -${aFrom},${aCount} +${bFrom},${bCount} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.text}`);
    index = stop;
  }
  return `${out.join("\n")}\n`;
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}
