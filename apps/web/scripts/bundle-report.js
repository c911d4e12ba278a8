/**
 * After `vite build`: writes a gzip copy beside every text asset (the server sends it to
 * clients that accept gzip) and measures the first screen's JavaScript — the entry chunk and
 * every chunk it imports statically, per Vite's manifest; lazy routes are not in it — gzipped.
 * Writes dist/bundle-report.json (read by `pnpm bench`) and fails the build over the budget.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** Issue 17: the first screen's JavaScript, gzipped, at most 250 KB. */
const BUDGET_BYTES = 250 * 1024;
const dist = fileURLToPath(new URL("../dist/", import.meta.url));

async function filesUnder(dir) {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const gzipped = new Map();
for (const file of await filesUnder(dist)) {
  if (!/\.(js|css|html|svg|json)$/.test(file) || file.includes(".vite")) continue;
  const zipped = gzipSync(await readFile(file), { level: 9 });
  gzipped.set(file, zipped.length);
  await writeFile(`${file}.gz`, zipped);
}

const manifest = JSON.parse(await readFile(join(dist, ".vite", "manifest.json"), "utf8"));
const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
if (!entry) throw new Error("bundle-report: no entry chunk in the Vite manifest");
const firstScreen = new Set();
const visit = (chunk) => {
  if (firstScreen.has(chunk.file)) return;
  firstScreen.add(chunk.file);
  for (const key of chunk.imports ?? []) visit(manifest[key]);
};
visit(entry);

const jsFiles = [...gzipped.keys()].filter((f) => f.endsWith(".js"));
const firstScreenJsGzipBytes = [...firstScreen].reduce((sum, file) => sum + (gzipped.get(join(dist, file)) ?? 0), 0);
const report = {
  firstScreenJsGzipBytes,
  budgetBytes: BUDGET_BYTES,
  firstScreenFiles: [...firstScreen],
  allJsGzipBytes: jsFiles.reduce((sum, f) => sum + gzipped.get(f), 0),
  jsFiles: jsFiles.length,
};
await writeFile(join(dist, "bundle-report.json"), `${JSON.stringify(report, null, 2)}\n`);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(
  `first-screen JavaScript: ${kb(firstScreenJsGzipBytes)} gzip (budget ${kb(BUDGET_BYTES)}; all JS ${kb(report.allJsGzipBytes)} in ${report.jsFiles} files)`,
);
if (firstScreenJsGzipBytes > BUDGET_BYTES) {
  console.error("bundle-report: the first screen's JavaScript is over its budget");
  process.exit(1);
}
