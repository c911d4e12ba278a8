import { defineConfig } from "tsup";

/**
 * One self-contained ESM file: every dependency (contracts, zod, diff) is bundled, and the
 * commands are behind `import()`, which esbuild keeps lazy inside the single file, so the
 * hot path (recording a hook event) evaluates only Node built-ins and our few modules.
 */
export default defineConfig({
  entry: { "logbook-hook": "src/main.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  bundle: true,
  splitting: false,
  noExternal: [/.*/],
  clean: true,
  minify: false,
  sourcemap: false,
  dts: false,
  banner: { js: "#!/usr/bin/env node" },
});
