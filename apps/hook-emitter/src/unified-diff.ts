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
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j]
          ? lcs[(i + 1) * width + j + 1]! + 1
          : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  type Op = { kind: " " | "-" | "+"; text: string; aBefore: number; bBefore: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const at = { aBefore: i, bBefore: j };
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: " ", text: a[i]!, ...at });
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || lcs[i * width + j + 1]! >= lcs[(i + 1) * width + j]!)) {
      ops.push({ kind: "+", text: b[j]!, ...at });
      j++;
    } else {
      ops.push({ kind: "-", text: a[i]!, ...at });
      i++;
    }
  }
  const out = [`--- ${path}`, `+++ ${path}`];
  let index = 0;
  for (;;) {
    let firstChange = -1;
    for (let k = index; k < ops.length; k++) {
      if (ops[k]!.kind !== " ") {
        firstChange = k;
        break;
      }
    }
    if (firstChange < 0) break;
    const start = Math.max(index, firstChange - context);
    let lastChange = firstChange;
    for (let k = firstChange; k < ops.length; k++) {
      if (ops[k]!.kind !== " ") lastChange = k;
      else if (k - lastChange > 2 * context) break;
    }
    const stop = Math.min(ops.length, lastChange + context + 1);
    const hunk = ops.slice(start, stop);
    const aCount = hunk.filter((op) => op.kind !== "+").length;
    const bCount = hunk.filter((op) => op.kind !== "-").length;
    // Unified-diff convention: a range of 0 lines names the line before it.
    const aFrom = hunk[0]!.aBefore + (aCount === 0 ? 0 : 1);
    const bFrom = hunk[0]!.bBefore + (bCount === 0 ? 0 : 1);
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
