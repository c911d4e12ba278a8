/**
 * After the server's build: copies the built dashboard (apps/web/dist, built first by turbo:
 * @logbook/web is a dev dependency) to dist/web, where the server serves it from and which
 * the published package carries. Copied beside and swapped in, so a server running from
 * this dist meanwhile sees the old files or the new ones, not half of each.
 */
import { cp, rename, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = fileURLToPath(new URL("../../web/dist/", import.meta.url));
const target = fileURLToPath(new URL("../dist/web", import.meta.url));
if (!existsSync(`${source}index.html`)) {
  console.error(`copy-web: ${source} has no index.html: build @logbook/web first (turbo does)`);
  process.exit(1);
}
const staging = `${target}.${process.pid}`;
await cp(source, staging, { recursive: true, filter: (path) => !path.includes("/.vite") });
await rm(`${target}.old`, { recursive: true, force: true });
if (existsSync(target)) await rename(target, `${target}.old`);
await rename(staging, target);
await rm(`${target}.old`, { recursive: true, force: true });
