import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Vitest global setup: the tests run the real bundled `dist/logbook.js`, so build it first. */
export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  execFileSync(join(root, "node_modules", ".bin", "tsup"), { cwd: root, stdio: "pipe" });
}
